/*
 * protocols.h - the protocols ringlab-server can speak, one file each in servers/.
 */
#ifndef RL_PROTOCOLS_H
#define RL_PROTOCOLS_H

#include "proto.h"

/* echo.c: every byte received is sent back, in order. */
extern const struct rl_proto rl_proto_echo;

/* greeting.c: send a message on accept, then close. */
extern const struct rl_proto rl_proto_greeting;

/* udp.c: echo each datagram, answer with a fixed reply, or answer sockperf pings. */
extern const struct rl_proto rl_proto_udp;

/* chat.c: a multi-client chat room. */
extern const struct rl_proto rl_proto_chat;

/* file.c, file_store.c: file uploads and downloads under --root. */
extern const struct rl_proto rl_proto_file;

#endif
