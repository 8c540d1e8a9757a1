package ipc

import "strconv"

// AllNames is the release name that means every reservation.
const AllNames = "*"

// MaxNameLen is the longest release name: it must fit the protocol's
// fixed-width name field.
const MaxNameLen = NameSize

// NameError says why a string is not a valid release name.
type NameError struct {
	Name   string
	Reason string
}

func (e *NameError) Error() string {
	return "bad release name " + strconv.Quote(e.Name) + ": " + e.Reason
}

// CheckName reports whether name may be a release name, that is the name
// of a file in the configuration directory that portrelease can name.
//
// A release name is 1 to 64 bytes of ASCII letters, digits and the
// punctuation - _ + @ , = and it does not start with '-' (it would read as
// an option). '.' and '~' are excluded because the original portreserve
// skips files whose names contain them (editor backups, package manager
// leftovers such as cups.dpkg-old), '*' because it means every name, ':'
// because the name travels in LISTEN_FDNAMES, a list split on ':', and
// white space, '/', control bytes and non-ASCII bytes because a name
// travels in a datagram and in log lines and must read the same everywhere.
func CheckName(name string) error {
	if name == "" {
		return &NameError{name, "empty"}
	}
	if len(name) > MaxNameLen {
		return &NameError{name, "longer than " + strconv.Itoa(MaxNameLen) + " bytes"}
	}
	if name[0] == '-' {
		return &NameError{name, "starts with '-'"}
	}
	for i := 0; i < len(name); i++ {
		if !nameByte(name[i]) {
			return &NameError{name, byteName(name[i]) + " is not allowed"}
		}
	}
	return nil
}

// validName reports whether name follows the rules of CheckName, without
// an error to build.
func validName(name []byte) bool {
	if len(name) == 0 || len(name) > MaxNameLen || name[0] == '-' {
		return false
	}
	for _, c := range name {
		if !nameByte(c) {
			return false
		}
	}
	return true
}

// nameByte reports whether c may appear in a release name.
func nameByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '_', '+', '@', ',', '=':
		return true
	}
	return false
}

// byteName describes c for an error message: 'c' when printable, else its
// value in hex.
func byteName(c byte) string {
	if c > ' ' && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return "byte 0x" + strconv.FormatUint(uint64(c)|0x100, 16)[1:]
}
