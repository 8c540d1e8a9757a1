package rawfs

import (
	"errors"
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

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, []byte("12345"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		limit int
		want  string
		err   error
	}{{5, "12345", nil}, {100, "12345", nil}, {4, "", ErrTooLarge}} {
		data, err := ReadFile(path, tt.limit)
		if string(data) != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("ReadFile(f, %d) = %q, %v; want %q, %v", tt.limit, data, err, tt.want, tt.err)
		}
	}
	if _, err := ReadFile(filepath.Join(dir, "missing"), 10); !os.IsNotExist(err) {
		t.Errorf("ReadFile(missing) = %v; want not exist", err)
	}
	if _, err := ReadFile(dir, 10); err == nil {
		t.Errorf("ReadFile(a directory) = nil error; want EISDIR")
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "tool")
	os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "plain"), nil, 0o644)
	os.Mkdir(filepath.Join(dir, "adir"), 0o755)
	for _, tt := range []struct {
		name, want string
		ok         bool
	}{
		{"tool", exe, true},
		{exe, exe, true},
		{"plain", "", false},
		{"adir", "", false},
		{"missing", "", false},
		{filepath.Join(dir, "plain"), "", false},
	} {
		got, err := LookPath(tt.name, "/nonexistent:"+dir)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("LookPath(%q) = %q, %v; want %q, ok %v", tt.name, got, err, tt.want, tt.ok)
		}
	}
}
