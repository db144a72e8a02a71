# syntax=docker/dockerfile:1
FROM golang:1.26-bookworm AS source
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .

FROM source AS build-app
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/gatehouse ./app \
 && mkdir -p /out/data

FROM source AS build-action
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/gatehouse-action ./action

# The app: docker build --target app -t gatehouse .
# Its SQLite database lives in the /data volume, owned by nonroot.
FROM gcr.io/distroless/static-debian12:nonroot AS app
COPY --from=build-app /out/gatehouse /gatehouse
COPY --from=build-app --chown=65532:65532 /out/data /data
USER nonroot:nonroot
ENV GATEHOUSE_DATABASE_URL=sqlite:/data/gatehouse.db
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["/gatehouse", "serve"]

# The action (default stage). The runner starts it with the INPUT_* variables,
# whose names keep their hyphens, so the binary is exec'd directly, never
# through a shell. GitHub runs container actions as the image's user and
# mounts the runner's file-command files (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY)
# owned by the runner's account, so this stage keeps the default user, as
# GitHub's documentation for Docker actions requires.
FROM gcr.io/distroless/static-debian12
COPY --from=build-action /out/gatehouse-action /gatehouse-action
ENTRYPOINT ["/gatehouse-action"]
