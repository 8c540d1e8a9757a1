package pathsafe

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

func TestDirs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give directories to other users")
	}
	base := t.TempDir()
	os.Chmod(base, 0o755)
	mk := func(path string, mode uint32, uid, gid int) string {
		t.Helper()
		p := filepath.Join(base, path)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := unix.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := mk("good", 0o755, 0, 0)
	other := mk("other", 0o755, 1000, 1000)
	mk("other/below", 0o755, 0, 0)
	world := mk("world", 0o777, 0, 0)
	sticky := mk("sticky", 0o1777, 0, 0)
	mk("sticky/mine", 0o755, 0, 0)
	group := mk("group", 0o775, 0, 100)
	for _, tt := range []struct {
		dir  string
		want []*Problem
	}{
		{good, nil},
		{sticky + "/mine", nil},
		{filepath.Join(base, "missing", "below"), nil},
		{other + "/below", []*Problem{{other, "owned by uid 1000"}}},
		{world, []*Problem{{world, "writable by every user"}}},
		{group, []*Problem{{group, "writable by group 100"}}},
	} {
		got := Dirs(tt.dir, 0)
		// Problems above base (the test's temporary directories) are
		// not the test's.
		var mine []*Problem
		for _, p := range got {
			if len(p.Dir) >= len(base) {
				mine = append(mine, p)
			}
		}
		if !reflect.DeepEqual(mine, tt.want) {
			t.Errorf("Dirs(%s) = %v; want %v", tt.dir, mine, tt.want)
		}
	}
	if got := Dirs(other+"/below", 1000); len(got) != 0 && got[0].Dir == other {
		t.Errorf("Dirs(%s) for uid 1000, its owner = %v; want it trusted", other, got)
	}
}
