# syntax=docker/dockerfile:1
FROM golang:1.26-bookworm AS source
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .

FROM source AS build-app
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/gatehouse ./app

FROM source AS build-action
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/gatehouse-action ./action

# The app: docker build --target app -t gatehouse .
FROM gcr.io/distroless/static-debian12:nonroot AS app
COPY --from=build-app /out/gatehouse /gatehouse
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/gatehouse"]

# The action (default stage). The runner starts it with the INPUT_* variables,
# whose names keep their hyphens, so the binary is exec'd directly, never
# through a shell. GitHub runs container actions as the image's user and
# mounts the runner's file-command files (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY)
# owned by the runner's account, so this stage keeps the default user, as
# GitHub's documentation for Docker actions requires.
FROM gcr.io/distroless/static-debian12
COPY --from=build-action /out/gatehouse-action /gatehouse-action
ENTRYPOINT ["/gatehouse-action"]
