/*
 * term.h: names and messages made safe to print on a terminal.
 *
 * A file name, target or reason taken from the file system or the
 * database may hold bytes a terminal acts on (ESC sequences that move the
 * cursor or rewrite the title, CR that overwrites the line, newline that
 * forges a second line of output). Every program that prints such a
 * string for a person writes it through here: printable ASCII is kept,
 * backslash becomes "\\", newline, CR and tab "\n", "\r", "\t", and every
 * other byte (controls, DEL, anything >= 0x80) "\xHH". The result is
 * visible, and unambiguous: the original bytes can be read back from it.
 */
#ifndef UVM_TERM_H
#define UVM_TERM_H

#include <stddef.h>
#include <stdio.h>

/* s (NULL: "") escaped into out of n bytes (n > 0), always terminated;
 * an escape that does not fit whole is left out with what follows, and
 * the result then ends in "...". Returns out. */
char *term_escape(const char *s, char *out, size_t n);
/* s escaped, straight to f (errors are the stream's: check at close). */
void term_fputs(FILE *f, const char *s);

#endif
