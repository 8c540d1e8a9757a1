package dirent

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"testing"
)

func TestNames(t *testing.T) {
	dir := t.TempDir()
	var want []string
	// Enough entries to need several getdents calls.
	for i := 0; i < 500; i++ {
		name := "file-with-a-fairly-long-name-" + strconv.Itoa(i)
		want = append(want, name)
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Names(dir)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Names(%d files) = %d names; want the %d files", len(want), len(got), len(want))
	}
	if _, err := Names(filepath.Join(dir, "missing")); err == nil {
		t.Errorf("Names(missing) = nil error; want ENOENT")
	}
	if _, err := Names(filepath.Join(dir, want[0])); err == nil {
		t.Errorf("Names(a file) = nil error; want ENOTDIR")
	}
}
