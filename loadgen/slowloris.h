/*
 * slowloris.h - ringlab-load's attacker mode (slowloris.c).
 */
#ifndef RL_LG_SLOWLORIS_H
#define RL_LG_SLOWLORIS_H

/*
 * Runs `ringlab-load slowloris ...` with argv[0] = "slowloris": holds --connections
 * connections open by sending one byte each per --interval, reconnecting when the server
 * cuts them, until --duration ends or SIGINT/SIGTERM.  Returns the exit status: 0, 1 on a
 * run error, 2 on bad usage.
 */
int lg_slowloris_main(int argc, char **argv);

#endif
