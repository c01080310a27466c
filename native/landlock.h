// Landlock rulesets for ocpm-sandbox: filesystem rules (read-only, read-write, device files), TCP
// connect rules (ABI 4) and scoping of signals and abstract UNIX sockets (ABI 6).
#ifndef OCPM_LANDLOCK_H
#define OCPM_LANDLOCK_H

#define MAX_ITEMS 4096

enum kind { RO, RW, DEV };
struct rule {
  enum kind kind;
  const char *path;
};

struct net_policy {
  /* 0: TCP connect is not restricted; 1: only to `ports`. */
  int restrict_connect;
  int count;
  unsigned short ports[MAX_ITEMS];
};

/* The kernel's Landlock ABI version, 0 when unavailable. */
int landlock_abi(void);

/* Confines the calling thread (and what it execs) to `rules` and `net`; sets no_new_privs. -1 on failure. */
int landlock_confine(const struct rule *rules, int count, const struct net_policy *net, int min_abi);

/* The same in two steps: the ruleset is made (paths opened) with the launcher's rights, and enforced
   after it became the session's uid, which may not be able to open them. -1 on failure. */
int landlock_prepare(const struct rule *rules, int count, const struct net_policy *net, int min_abi);
int landlock_enforce(int ruleset);

#endif
