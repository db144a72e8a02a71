package conformance

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Dir returns the reference data folder, or skips the test with a clear
// message when it is not there.
func Dir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("GATEHOUSE_CONFORMANCE_DIR")
	if dir == "" {
		_, file, _, _ := runtime.Caller(0)
		// internal/conformance/conformance.go -> module root -> ../shared/testdata
		dir = filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "testdata")
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Skipf("conformance data not found at %s (set GATEHOUSE_CONFORMANCE_DIR to the shared testdata folder); skipping the check against upstream shapes", dir)
	}
	return dir
}

// File returns the path of a file under the reference data folder, skipping
// the test when the folder or the file is absent.
func File(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(Dir(t), filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		t.Skipf("conformance file %s not found; skipping", p)
	}
	return p
}
