/*
 * srcfilter.c - the listener's classic BPF program that drops blocked IPv4 sources' SYNs
 * (see srcfilter.h).
 *
 * Where it runs: TCP delivers a segment for a listening socket (a SYN, or the ACK that
 * completes a handshake) through the listener's socket filter (tcp_filter() in
 * tcp_v4_rcv()) before it creates the request socket, so a SYN the program rejects is
 * dropped silently: no SYN-ACK, no accept, nothing in the server's loop.  The client
 * retransmits its SYN (after 1 s, 3 s, ...), as it would behind a firewall.  The program
 * sees the segment from its TCP header; the IP header is reached through SKF_NET_OFF, so
 * `ld [SKF_NET_OFF + 12]` is the IPv4 source.  Checked on kernel 6.18 for an IPv4 listener
 * and for a dual-stack IPv6 listener receiving IPv4 (the SYN from the blocked 127.0.0.2
 * is never answered, the one from 127.0.0.3 is accepted) -- and that an accepted socket
 * inherits the program (SO_GET_FILTER), which is why rl_srcfilter_detach() exists.
 */
#include "srcfilter.h"

#include <errno.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* Version check, load source, one compare and one return per address, pass. */
#define PROG_MAX (5 + 2 * RL_SRCFILTER_MAX)

int rl_srcfilter_apply(const int *fds, unsigned n, const uint32_t *addrs, unsigned naddr)
{
	struct sock_filter prog[PROG_MAX];
	struct sock_fprog fp = {.filter = prog};
	unsigned i, len = 0;
	int ret = 0, zero = 0;

	if (naddr > RL_SRCFILTER_MAX)
		return -E2BIG;
	if (naddr) {
		prog[len++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_B | BPF_ABS,
							   (uint32_t)SKF_NET_OFF);
		prog[len++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xf0);
		/* Not IPv4 (an IPv6 packet on a dual-stack listener): pass. */
		prog[len++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x40, 1, 0);
		prog[len++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0xffffffffu);
		prog[len++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
							   (uint32_t)SKF_NET_OFF + 12);
		/* Each compare jumps at most one instruction: no 8-bit jump offset overflows
		 * however many addresses there are. */
		for (i = 0; i < naddr; i++) {
			prog[len++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
								   ntohl(addrs[i]), 0, 1);
			prog[len++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
		}
		prog[len++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0xffffffffu);
	}
	fp.len = (unsigned short)len;
	for (i = 0; i < n; i++) {
		int rc = naddr ? setsockopt(fds[i], SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp))
			       : setsockopt(fds[i], SOL_SOCKET, SO_DETACH_FILTER, &zero,
					    sizeof(zero));

		if (rc < 0 && !ret && !(errno == ENOENT && !naddr))
			ret = -errno;
	}
	return ret;
}

int rl_srcfilter_detach(int fd)
{
	int zero = 0;

	if (setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, &zero, sizeof(zero)) < 0)
		return errno == ENOENT ? 0 : -errno;
	return 0;
}
