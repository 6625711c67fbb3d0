package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/internal/jsontext"
)

// errBodyTooLarge is a body over the configured cap; it answers 413.
var errBodyTooLarge = errors.New("request body too large")

// decodeStrict decodes raw, one JSON object, into v (a pointer to a struct
// whose fields all carry json tags). Unlike encoding/json it refuses unknown
// or case-mismatched members, repeated members, null, wrong types, integers
// out of range, invalid UTF-8 (an escaped lone surrogate included) and
// anything after the object, each as a
// *domain.ValidationError naming the field ("links[0].href").
func decodeStrict(raw []byte, v any) error {
	if len(bytes.TrimSpace(raw)) == 0 {
		return &domain.ValidationError{Field: "body", Reason: "must be a JSON object"}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	w := walker{dec: dec, raw: raw}
	if err := w.value(reflect.TypeOf(v).Elem(), ""); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return &domain.ValidationError{Field: "body", Reason: "must hold exactly one JSON object"}
	}
	if err := json.Unmarshal(raw, v); err != nil {
		// The walk has checked every type already; this is a safety net.
		return &domain.ValidationError{Field: "body", Reason: "does not match the schema"}
	}
	return nil
}

type walker struct {
	dec  *json.Decoder
	raw  []byte
	prev int64
}

// token reads one token and checks that its bytes are valid UTF-8 and
// escape no lone surrogate (\ud800): the standard decoder would silently
// replace either with U+FFFD.
func (w *walker) token(path string) (json.Token, error) {
	t, err := w.dec.Token()
	if err != nil {
		return nil, &domain.ValidationError{Field: orBody(path), Reason: "is not well-formed JSON"}
	}
	end := w.dec.InputOffset()
	if !jsontext.Valid(w.raw[w.prev:end]) {
		return nil, &domain.ValidationError{Field: orBody(path), Reason: "must be valid UTF-8"}
	}
	w.prev = end
	return t, nil
}

func orBody(path string) string {
	if path == "" {
		return "body"
	}
	return path
}

// value walks one JSON value that must have type typ.
func (w *walker) value(typ reflect.Type, path string) error {
	t, err := w.token(path)
	if err != nil {
		return err
	}
	if typ.Kind() == reflect.Pointer {
		// An optional member: present, it is checked as its element, so
		// null is refused like any other wrong type.
		typ = typ.Elem()
	}
	switch typ.Kind() {
	case reflect.Struct:
		if t != json.Delim('{') {
			return &domain.ValidationError{Field: orBody(path), Reason: "must be an object"}
		}
		return w.object(typ, path)
	case reflect.Slice:
		if t != json.Delim('[') {
			return &domain.ValidationError{Field: path, Reason: "must be an array"}
		}
		for i := 0; w.dec.More(); i++ {
			if err := w.value(typ.Elem(), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
		_, err := w.token(path)
		return err
	case reflect.String:
		if _, ok := t.(string); !ok {
			return &domain.ValidationError{Field: path, Reason: "must be a string"}
		}
	case reflect.Int:
		n, ok := t.(json.Number)
		if !ok {
			return &domain.ValidationError{Field: path, Reason: "must be an integer"}
		}
		if _, err := strconv.ParseInt(n.String(), 10, 32); err != nil {
			return &domain.ValidationError{Field: path, Reason: "must be an integer of at most 32 bits"}
		}
	default:
		return &domain.ValidationError{Field: path, Reason: "is not supported"}
	}
	return nil
}

// object walks the members of an object already opened, matching names to
// typ's json tags exactly.
func (w *walker) object(typ reflect.Type, path string) error {
	seen := map[string]bool{}
	for w.dec.More() {
		t, err := w.token(path)
		if err != nil {
			return err
		}
		name, _ := t.(string)
		field := name
		if path != "" {
			field = path + "." + name
		}
		if name == "" || len(field) > 64 || !printable(field) {
			field = orBody(path)
		}
		f, ok := fieldByTag(typ, name)
		if !ok {
			return &domain.ValidationError{Field: field, Reason: "is not a known field"}
		}
		if seen[name] {
			return &domain.ValidationError{Field: field, Reason: "must not be repeated"}
		}
		seen[name] = true
		if err := w.value(f.Type, field); err != nil {
			return err
		}
	}
	_, err := w.token(path)
	return err
}

func fieldByTag(typ reflect.Type, name string) (reflect.StructField, bool) {
	for i := range typ.NumField() {
		f := typ.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == name && tag != "" && tag != "-" {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// printable reports whether a caller's field name may be echoed in a
// message: printable ASCII only.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
