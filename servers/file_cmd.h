/*
 * file_cmd.h - the file protocol's command lines and file-name rules (docs/protocol.md).
 *
 * A pure parser in the picohttpparser mould: it reads from a buffer it does not own,
 * allocates nothing, and returns how many bytes the command took, -EAGAIN when the line
 * is not complete yet, or a negative errno saying what is wrong with it.
 */
#ifndef RL_FILE_CMD_H
#define RL_FILE_CMD_H

#include <stddef.h>
#include <stdint.h>

enum rl_filecmd_kind {
	RL_FILECMD_PUT,
	RL_FILECMD_GET,
	RL_FILECMD_LIST,
	RL_FILECMD_DEL,
};

/* Longest file name, in bytes (one path component, as NAME_MAX). */
#define RL_FILENAME_MAX 255

struct rl_filecmd {
	enum rl_filecmd_kind kind;
	const uint8_t *name; /* points into the parsed buffer; not NUL-terminated */
	size_t name_len;
	uint64_t size; /* PUT only */
};

/*
 * Parses the command line at the start of buf[0..len).  A line ends with "\n" ("\r\n" is
 * accepted); words are separated by one space.  Returns the bytes consumed including the
 * newline, or:
 *   -EAGAIN    no newline yet and fewer than max_line bytes: wait for more;
 *   -EMSGSIZE  no newline within max_line bytes (the header is too long);
 *   -EBADMSG   unknown command, wrong number of words, a size that is not a plain decimal
 *              number or does not fit in 64 bits;
 *   -EINVAL    a file name that is not allowed (see rl_filename_check).
 * On success *out describes the command; out->name points into buf.
 */
long rl_filecmd_parse(const uint8_t *buf, size_t len, size_t max_line, struct rl_filecmd *out);

/*
 * Checks that a file name is one safe path component: 1..RL_FILENAME_MAX bytes, no '/',
 * no NUL or other control byte (0x00-0x1f, 0x7f), no space, not starting with '.' (which
 * also rules out "." and "..", and keeps the server's temporary files out of reach).
 * Returns 0 or -EINVAL.
 */
int rl_filename_check(const uint8_t *name, size_t len);

#endif
