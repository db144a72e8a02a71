package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/gatehouse-ci/gatehouse/internal/store"
)

// PutInstallation records or replaces an installation and its repositories.
func (s *Store) PutInstallation(ctx context.Context, in store.Installation, repos []string) error {
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO installations (id, account, all_repositories) VALUES (?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET account = excluded.account, all_repositories = excluded.all_repositories`,
			in.ID, in.Account, in.AllRepositories); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM installation_repos WHERE installation_id = ?`, in.ID); err != nil {
			return err
		}
		return addRepos(ctx, tx, in.ID, repos)
	})
	if err != nil {
		return fmt.Errorf("put installation %d: %w", in.ID, err)
	}
	return nil
}

func addRepos(ctx context.Context, tx *wtx, id int64, repos []string) error {
	for _, r := range repos {
		if _, err := tx.ExecContext(ctx, `INSERT INTO installation_repos (installation_id, repository) VALUES (?, ?)
			ON CONFLICT DO NOTHING`, id, r); err != nil {
			return err
		}
	}
	return nil
}

// AddInstallationRepos adds repositories to a stored installation.
func (s *Store) AddInstallationRepos(ctx context.Context, id int64, repos []string) error {
	return s.changeRepos(ctx, id, "add repositories to", func(ctx context.Context, tx *wtx) error {
		return addRepos(ctx, tx, id, repos)
	})
}

// RemoveInstallationRepos removes repositories from a stored installation.
func (s *Store) RemoveInstallationRepos(ctx context.Context, id int64, repos []string) error {
	return s.changeRepos(ctx, id, "remove repositories from", func(ctx context.Context, tx *wtx) error {
		for _, r := range repos {
			if _, err := tx.ExecContext(ctx, `DELETE FROM installation_repos WHERE installation_id = ? AND repository = ?`, id, r); err != nil {
				return err
			}
		}
		return nil
	})
}

// changeRepos runs fn in a write transaction if installation id is stored.
func (s *Store) changeRepos(ctx context.Context, id int64, verb string, fn func(context.Context, *wtx) error) error {
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM installations WHERE id = ?`, id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		return fn(ctx, tx)
	})
	if err != nil {
		return fmt.Errorf("%s installation %d: %w", verb, id, err)
	}
	return nil
}

// DeleteInstallation forgets an installation and its repositories; an
// unknown id is not an error.
func (s *Store) DeleteInstallation(ctx context.Context, id int64) error {
	if _, err := s.exec(ctx, `DELETE FROM installations WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete installation %d: %w", id, err)
	}
	return nil
}

// InstallationFor returns the installation covering repository: one that
// lists it, else one on the owner's account with all repositories; the
// lowest id wins a tie.
func (s *Store) InstallationFor(ctx context.Context, repository string) (int64, error) {
	owner, name, _ := strings.Cut(repository, "/")
	if owner == "" || name == "" {
		return 0, fmt.Errorf("installation for %q: not owner/name", repository)
	}
	var id int64
	err := s.r.QueryRowContext(ctx, `SELECT id FROM (
			SELECT installation_id AS id, 0 AS rank FROM installation_repos WHERE repository = ?
			UNION ALL
			SELECT id, 1 FROM installations WHERE account = ? AND all_repositories
		) ORDER BY rank, id LIMIT 1`, repository, owner).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("installation for %s: %w", repository, err)
	}
	return id, nil
}
