package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/gatehouse-ci/gatehouse/internal/store"
)

func testInstallations(t *testing.T, s store.Store) {
	ctx := context.Background()
	check := func(step string, want map[string]int64) {
		t.Helper()
		for repo, id := range want {
			got, err := s.InstallationFor(ctx, repo)
			switch {
			case id == 0 && !errors.Is(err, store.ErrNotFound):
				t.Errorf("%s: InstallationFor(%s) = %d, %v; want ErrNotFound", step, repo, got, err)
			case id != 0 && (err != nil || got != id):
				t.Errorf("%s: InstallationFor(%s) = %d, %v; want %d", step, repo, got, err, id)
			}
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	must(s.PutInstallation(ctx, store.Installation{ID: 1, Account: "Acme"}, []string{"Acme/Widgets", "acme/gears"}))
	must(s.PutInstallation(ctx, store.Installation{ID: 2, Account: "acme", AllRepositories: true}, nil))
	must(s.PutInstallation(ctx, store.Installation{ID: 3, Account: "Other"}, []string{"other/x"}))
	check("put", map[string]int64{
		"acme/widgets":  1, // listed beats all repositories
		"ACME/Gears":    1,
		"Acme/unlisted": 2, // all repositories on the owner's account
		"other/x":       3,
		"other/y":       0, // selected repositories only
		"nobody/x":      0,
		"acmex/widgets": 0,
	})

	must(s.RemoveInstallationRepos(ctx, 1, []string{"ACME/WIDGETS"}))
	must(s.AddInstallationRepos(ctx, 3, []string{"other/y", "other/y"}))
	check("add and remove", map[string]int64{"acme/widgets": 2, "acme/gears": 1, "other/y": 3})

	must(s.DeleteInstallation(ctx, 2))
	check("delete all-repositories installation", map[string]int64{"acme/widgets": 0, "acme/unlisted": 0, "acme/gears": 1})

	must(s.PutInstallation(ctx, store.Installation{ID: 1, Account: "Acme"}, []string{"acme/new"}))
	must(s.PutInstallation(ctx, store.Installation{ID: 3, Account: "Other", AllRepositories: true}, nil))
	check("replace", map[string]int64{"acme/gears": 0, "acme/new": 1, "other/x": 3, "other/z": 3})

	must(s.DeleteInstallation(ctx, 1))
	must(s.PutInstallation(ctx, store.Installation{ID: 1, Account: "Acme"}, nil))
	check("delete forgets the repositories", map[string]int64{"acme/new": 0})

	for name, err := range map[string]error{
		"AddInstallationRepos":    s.AddInstallationRepos(ctx, 99, []string{"a/b"}),
		"RemoveInstallationRepos": s.RemoveInstallationRepos(ctx, 99, []string{"a/b"}),
	} {
		wantErr(t, name+" of an unknown installation", err, store.ErrNotFound)
	}
	if _, err := s.InstallationFor(ctx, "no-owner"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("InstallationFor(no-owner) error %v, want a bad-name error", err)
	}
}
