/* `ganomede-events-server copy`: a single Redis copied into a Redis
 * Cluster (ge_copy.h; docs/cluster.md, "Moving a deployment"). */
#ifndef GE_SERVER_COPY_H
#define GE_SERVER_COPY_H

/* argv[0] is "copy". Returns the exit status: 0 same, 1 differ, 2 failed
 * or bad arguments. */
int ge_server_copy(int argc, char **argv);

#endif
