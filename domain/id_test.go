package domain_test

import (
	"errors"
	"testing"

	"github.com/jobstatus/jobstatus/domain"
)

func TestParseID(t *testing.T) {
	t.Parallel()
	const canonical = "89678f60-4cdc-4fe3-ae83-e8b3ebd35c59"
	tests := []struct {
		name string
		in   string
		want domain.ID
		ok   bool
	}{
		{"Canonical", canonical, canonical, true},
		{"UpperCaseIsLowered", "89678F60-4CDC-4FE3-AE83-E8B3EBD35C59", canonical, true},
		{"MixedCase", "89678f60-4CDC-4fe3-AE83-e8b3ebd35c59", canonical, true},
		{"NilUUID", "00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000000", true},
		{"Empty", "", "", false},
		{"Braced", "{" + canonical + "}", "", false},
		{"URN", "urn:uuid:" + canonical, "", false},
		{"ThirtyTwoDigits", "89678f604cdc4fe3ae83e8b3ebd35c59", "", false},
		{"HyphenMisplaced", "89678f6-04cdc-4fe3-ae83-e8b3ebd35c59", "", false},
		{"NonHex", "89678f60-4cdc-4fe3-ae83-e8b3ebd35c5g", "", false},
		{"TrailingSpace", canonical + " ", "", false},
		{"LeadingSpace", " " + canonical[1:], "", false},
		{"TooLong", canonical + "0", "", false},
		{"UnicodeDigit", "89678f60-4cdc-4fe3-ae83-e8b3ebd35c5\u0660", "", false},
		{"PathTraversal", "../../../../etc/passwd/aaaaaaaaaaaaaaa", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := domain.ParseID(tt.in)
			if tt.ok {
				if err != nil || got != tt.want {
					t.Fatalf("ParseID(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
				}
				return
			}
			var v *domain.ValidationError
			if !errors.As(err, &v) {
				t.Fatalf("ParseID(%q) error = %v; want *ValidationError", tt.in, err)
			}
		})
	}
}

func TestNewIDIsCanonicalV4(t *testing.T) {
	t.Parallel()
	seen := map[domain.ID]bool{}
	for range 1000 {
		id := domain.NewID()
		parsed, err := domain.ParseID(id.String())
		if err != nil || parsed != id {
			t.Fatalf("NewID() = %q is not canonical: %v", id, err)
		}
		if id[14] != '4' || !(id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b') {
			t.Fatalf("NewID() = %q is not a version 4, RFC 4122 variant UUID", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
	}
}

func TestIDFromBitsSetsVersionAndVariant(t *testing.T) {
	t.Parallel()
	var ones [16]byte
	for i := range ones {
		ones[i] = 0xff
	}
	for _, tc := range []struct {
		bits [16]byte
		want domain.ID
	}{
		{[16]byte{}, "00000000-0000-4000-8000-000000000000"},
		{ones, "ffffffff-ffff-4fff-bfff-ffffffffffff"},
		{[16]byte{0x89, 0x67, 0x8f, 0x60, 0x4c, 0xdc, 0x4f, 0xe3, 0xae, 0x83, 0xe8, 0xb3, 0xeb, 0xd3, 0x5c, 0x59}, "89678f60-4cdc-4fe3-ae83-e8b3ebd35c59"},
	} {
		if got := domain.IDFromBits(tc.bits); got != tc.want {
			t.Errorf("IDFromBits(%x) = %q, want %q", tc.bits, got, tc.want)
		}
	}
}

func FuzzParseID(f *testing.F) {
	for _, s := range []string{"89678f60-4cdc-4fe3-ae83-e8b3ebd35c59", "", "{}", "urn:uuid:x", "89678F60-4CDC-4FE3-AE83-E8B3EBD35C59"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := domain.ParseID(s)
		if err != nil {
			return
		}
		if len(id) != 36 {
			t.Fatalf("accepted %q as %q", s, id)
		}
		again, err := domain.ParseID(id.String())
		if err != nil || again != id {
			t.Fatalf("canonical form %q does not round-trip", id)
		}
	})
}

func BenchmarkParseID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := domain.ParseID("89678F60-4CDC-4FE3-AE83-E8B3EBD35C59"); err != nil {
			b.Fatal(err)
		}
	}
}
