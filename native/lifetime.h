// The lifetime of a sandboxed program's whole process tree: nothing it starts outlives it, whatever
// it does to its environment, session or parentage.
#ifndef OCPM_LIFETIME_H
#define OCPM_LIFETIME_H

enum lifetime {
  /* No supervision: the launcher execs the program (its descendants can escape). */
  LIFETIME_NONE,
  /* The launcher is the child subreaper of the tree and kills all of it when the program ends. */
  LIFETIME_SUBREAPER,
  /* The program runs in a PID namespace of its own, whose init is ours: when it ends, the kernel
     kills every process in the namespace. /proc and /dev/shm are private to it where mountable. */
  LIFETIME_PIDNS,
};

struct lifetime_options {
  /* The strongest mechanism wanted; weaker ones are used when the kernel refuses it. */
  enum lifetime want;
  /* After a SIGTERM/SIGINT/SIGHUP (or the service's death), how long the program has before the tree is killed. */
  int grace_ms;
};

/* Whether this process may create a PID namespace (directly or inside a user namespace). */
int pidns_available(void);

/* Runs worker(arg) in a supervised child; the child's worker must exec or _exit. Returns the exit
   code the launcher exits with (the program's, 128+signal when it was killed); *used tells which
   mechanism held the tree, *private_shm whether /dev/shm is a private tmpfs. */
int supervise(const struct lifetime_options *options, int (*worker)(void *arg, int private_shm), void *arg, enum lifetime *used);

#endif
