package store

import (
	"regexp"
	"strings"
	"testing"
)

// TestSchemaHasNoFloatMoney scans every migration of both dialects: no
// column is a float or an arbitrary-precision decimal (money is BIGINT
// minor units with a currency), and every money column says so in its
// name and type.
func TestSchemaHasNoFloatMoney(t *testing.T) {
	float := regexp.MustCompile(`(?i)\b(REAL|FLOAT\d*|DOUBLE|NUMERIC|DECIMAL|MONEY)\b`)
	money := regexp.MustCompile(`(?im)^\s*(\w*(?:price|amount|revenue)\w*)\s+(\w+)`)
	for _, d := range []string{DialectSQLite, DialectPostgres} {
		ms, err := migrations(d)
		if err != nil {
			t.Fatal(err)
		}
		found := 0
		for _, m := range ms {
			for _, line := range strings.Split(m.sql, "\n") {
				code, _, _ := strings.Cut(line, "--")
				if float.MatchString(code) {
					t.Errorf("%s/%s: %q", d, m.name, strings.TrimSpace(line))
				}
			}
			for _, c := range money.FindAllStringSubmatch(m.sql, -1) {
				found++
				if !strings.HasSuffix(c[1], "_minor") || (c[2] != "BIGINT" && c[2] != "INTEGER") {
					t.Errorf("%s/%s: money column %s %s: want NAME_minor BIGINT", d, m.name, c[1], c[2])
				}
			}
		}
		if found < 3 {
			t.Errorf("%s: found %d money columns; the scan is broken", d, found)
		}
	}
}
