package main

import (
	"errors"
	"strings"
)

// The original's two errors, in its words.
var (
	errNoClosingQuote = errors.New("no closing quotation")
	errNoEscaped      = errors.New("no escaped character after the final backslash")
)

// splitCommand splits COMMAND into words exactly as the original did, with
// Python's shlex.split (POSIX mode, no comments), so that a crontab line
// runs the same program with the same arguments under either:
//
//   - blanks (space, tab, CR, LF) separate words;
//   - outside quotes, a backslash takes the next character as it is;
//   - within single quotes, every character is itself;
//   - within double quotes, a backslash escapes only " and \ and is kept
//     before anything else ("a\.b" is a\.b, as grep wants it; "x\$y" is
//     x\$y: there is no shell, and so no $ to protect);
//   - quotes join the parts of a word (a"b c"d is one word), and a pair of
//     quotes with nothing between them is an empty word;
//   - # is an ordinary character: there are no comments.
//
// This is a POSIX shell's quoting but for the last two rules of double
// quotes and #. No library splits this way (google/shlex, used before, let
// a backslash escape anything within double quotes, and took # for a
// comment), and the rules are short. Errors are the original's: an open
// quote, or a backslash at the end.
func splitCommand(s string) ([]string, error) {
	var (
		words  []string
		word   strings.Builder
		inWord bool // a word is under way, even an empty one ('')
	)
	const blanks = " \t\r\n"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case strings.IndexByte(blanks, c) >= 0:
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		case c == '\\':
			if i+1 == len(s) {
				return nil, errNoEscaped
			}
			i++
			word.WriteByte(s[i])
			inWord = true
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, errNoClosingQuote
			}
			word.WriteString(s[i+1 : i+1+end])
			i += 1 + end
			inWord = true
		case c == '"':
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' {
					if i+1 == len(s) {
						return nil, errNoEscaped
					}
					if n := s[i+1]; n == '"' || n == '\\' {
						i++ // the backslash goes; before anything else it stays
					}
				}
				word.WriteByte(s[i])
			}
			if i == len(s) {
				return nil, errNoClosingQuote
			}
			inWord = true
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, nil
}
