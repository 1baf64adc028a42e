/*
 * line.h - newline framing for line protocols (chat), as a pure parser.
 *
 * Reads from a buffer it does not own, allocates nothing, and returns how many bytes the
 * next line takes, so it can be fuzzed and tested on its own.
 */
#ifndef RL_LINE_H
#define RL_LINE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Finds the first line in buf[0..len).  A line ends with "\n"; a "\r" right before it is
 * not part of the text.  On success stores the text length (without "\r\n" or "\n") in
 * *text_len and returns the bytes consumed including the newline.  Returns -EAGAIN when
 * there is no newline yet and the bytes so far could still form a line of at most
 * max_line bytes, or -EMSGSIZE when the line is (or must become) longer than max_line.
 */
long rl_line_next(const uint8_t *buf, size_t len, size_t max_line, size_t *text_len);

#endif
