package bootstrap

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
)

// envPrefix starts every environment variable of the service.
const envPrefix = "JOBSTATUS_"

// setting is one configuration value as a person names it, found by
// walking Config's struct tags, so names, documentation and checks cannot
// drift from the struct.
type setting struct {
	env   string        // JOBSTATUS_HTTP_ADDR; empty for YAML-only settings
	yaml  string        // http.addr
	desc  string        // the desc tag
	value reflect.Value // the field; settable when walked from a pointer
}

// settingsOf lists every leaf setting of c in declaration order.
func settingsOf(c *Config) []setting {
	var out []setting
	walkSettings(reflect.ValueOf(c).Elem(), envPrefix, "", &out)
	return out
}

func walkSettings(v reflect.Value, envPre, yamlPre string, out *[]setting) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		key := yamlPre + strings.Split(f.Tag.Get("yaml"), ",")[0]
		if f.Type.Kind() == reflect.Struct {
			walkSettings(v.Field(i), envPre+f.Tag.Get("envPrefix"), key+".", out)
			continue
		}
		s := setting{yaml: key, desc: f.Tag.Get("desc"), value: v.Field(i)}
		if name := f.Tag.Get("env"); name != "" {
			s.env = envPre + name
		}
		*out = append(*out, s)
	}
}

// settingNames maps each YAML key to how messages name the setting.
var settingNames = sync.OnceValue(func() map[string]string {
	names := map[string]string{}
	for _, s := range settingsOf(&Config{}) {
		names[s.yaml] = s.yaml
		if s.env != "" {
			names[s.yaml] = s.env + " (" + s.yaml + ")"
		}
	}
	return names
})

// name returns how a message names the setting with YAML key key: its
// variable and its key, e.g. "JOBSTATUS_HTTP_ADDR (http.addr)".
func name(key string) string {
	n, ok := settingNames()[key]
	if !ok {
		panic("bootstrap: no setting " + key) // a typo in this package, caught by its tests
	}
	return n
}

// checkEnvironment refuses variables whose value does not parse as their
// setting's type, naming the variable.
func checkEnvironment(vars map[string]string) error {
	var errs []error
	for _, s := range settingsOf(&Config{}) {
		raw, ok := vars[s.env]
		if s.env == "" || !ok {
			continue
		}
		var err error
		switch t := s.value.Type(); {
		case t == reflect.TypeFor[time.Duration]():
			_, err = time.ParseDuration(raw)
		case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
			_, err = strconv.ParseInt(raw, 10, t.Bits())
		case t.Kind() == reflect.Float64:
			_, err = strconv.ParseFloat(raw, 64)
		case t.Kind() == reflect.Bool:
			_, err = strconv.ParseBool(raw)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not %s", name(s.yaml), raw, kindName(s.value.Type())))
		}
	}
	return errors.Join(errs...)
}

func kindName(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[time.Duration]():
		return "a duration such as 30s or 5m"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return "a whole number"
	case t.Kind() == reflect.Bool:
		return "true or false"
	default:
		return "a number"
	}
}

// formatValue writes v as a person would type it in the environment.
func formatValue(v reflect.Value) string {
	switch {
	case v.Type() == reflect.TypeFor[time.Duration]():
		return formatDuration(time.Duration(v.Int()))
	case v.Kind() == reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = fmt.Sprint(v.Index(i).Interface())
		}
		return strings.Join(parts, ",")
	case v.Kind() == reflect.Map:
		if v.Len() == 0 {
			return ""
		}
		return fmt.Sprintf("%d entries", v.Len())
	}
	return fmt.Sprint(v.Interface())
}

// formatDuration writes 1h rather than 1h0m0s, 30m rather than 30m0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
