package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// say writes one line to w (stderr): "zk-flock: " and the message, with
// control characters escaped, so that a path or a value from the command
// line or a file can neither split the line nor drive the terminal.
func say(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "zk-flock: %s\n", printable(fmt.Sprintf(format, args...)))
}

// printable escapes what a terminal would act on, or the table would break
// on, as Go escapes it in a quoted string (\n, \t, \x1b, \u200b): node
// data and names are anyone's to write, and an operator's terminal must not
// run their escape sequences.
func printable(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || !unicode.IsPrint(r) {
			q := strconv.Quote(s[i : i+n])
			b.WriteString(q[1 : len(q)-1])
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
