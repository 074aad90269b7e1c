package config_test

import (
	"strings"
	"testing"

	"github.com/zk-flock/zk-flock/internal/config"
	"github.com/zk-flock/zk-flock/internal/logging"
)

// TestLevelsAgreeWithLogging keeps the two level tables in step: config
// validates level names without importing logging (neither package depends
// on the other), and the caller hands config's normalized names to
// logging.ParseLevel. Every name config accepts must parse there, and every
// name config rejects must fail there too.
func TestLevelsAgreeWithLogging(t *testing.T) {
	names := []string{"ERROR", "WARN", "WARNING", "INFO", "DEBUG", "error", "Warning", "debug",
		"", "TRACE", "CRITICAL", "FATAL", "NOTSET", "warn ", "INFO+1"}
	for _, name := range names {
		for _, key := range []string{"level", "zklevel"} {
			doc := `{"host":["zk"],"timeout":5,"app_id":"a","logger":{"` + key + `":"` + name + `"}}`
			cfg, cerr := config.Parse(strings.NewReader(doc))
			_, lerr := logging.ParseLevel(name)
			if (cerr == nil) != (lerr == nil) {
				t.Errorf("%s %q: config error %v, logging error %v", key, name, cerr, lerr)
			}
			if cerr != nil {
				continue
			}
			got := cfg.Logger.Level
			if key == "zklevel" {
				got = cfg.Logger.ZKLevel
			}
			lvl, err := logging.ParseLevel(got)
			if err != nil {
				t.Errorf("logging cannot parse config's normalized %q: %v", got, err)
			}
			if logging.LevelName(lvl) != got {
				t.Errorf("config normalizes %q to %q, logging names it %q", name, got, logging.LevelName(lvl))
			}
		}
	}
	def := config.Default()
	for _, name := range []string{def.Logger.Level, def.Logger.ZKLevel} {
		if _, err := logging.ParseLevel(name); err != nil {
			t.Errorf("default level %q: %v", name, err)
		}
	}
}
