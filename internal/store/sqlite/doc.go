// Package sqlite is the embedded store: a single SQLite file, opened with
// the pure-Go modernc.org/sqlite driver so the app builds with CGO_ENABLED=0.
//
// The file is in WAL mode with synchronous=FULL, so an acknowledged write
// survives a power cut. One goroutine owns the only write connection and
// commits the writes waiting for it in groups, each in a savepoint of one
// BEGIN IMMEDIATE transaction, so one sync of the file serves many writes.
// Reads use a separate pool and are not blocked by writes.
//
// Between processes the busy timeout (5s) makes a writer wait for the lock
// instead of failing. SQLite does not queue waiting processes, so one that
// keeps its writer saturated can make another's writes time out.
//
// The schema is built by the numbered SQL files in migrations/, applied in
// order when the store is opened.
package sqlite
