package bootstrap

import "time"

// SettingName names a setting by its YAML key as every message does: the
// variable, then the key in parentheses (JOBSTATUS_ADMIN_ADDR (admin_addr)).
func SettingName(key string) string { return name(key) }

// FormatDuration prints d as the settings and messages write it: 5m, not
// 5m0s.
func FormatDuration(d time.Duration) string { return formatDuration(d) }
