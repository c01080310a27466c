// Landlock rulesets for ocpm-sandbox (see landlock.h). The constants come from linux/landlock.h
// (kernel 6.12+): Debian bookworm's headers predate most of it.
#define _GNU_SOURCE
#include "landlock.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/types.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LL_CREATE_RULESET 444
#define LL_ADD_RULE 445
#define LL_RESTRICT_SELF 446
#define LL_CREATE_RULESET_VERSION (1U << 0)
#define LL_RULE_PATH_BENEATH 1
#define LL_RULE_NET_PORT 2

#define FS_EXECUTE (1ULL << 0)
#define FS_WRITE_FILE (1ULL << 1)
#define FS_READ_FILE (1ULL << 2)
#define FS_READ_DIR (1ULL << 3)
#define FS_MAKE_SYM (1ULL << 12)
#define FS_REFER (1ULL << 13)    /* ABI 2 */
#define FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#define FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#define NET_CONNECT_TCP (1ULL << 1) /* ABI 4 */
#define SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0) /* ABI 6 */
#define SCOPE_SIGNAL (1ULL << 1)               /* ABI 6 */

#define FILE_RIGHTS (FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV)
#define RO_RIGHTS (FS_EXECUTE | FS_READ_FILE | FS_READ_DIR)
#define DEV_RIGHTS (FS_READ_FILE | FS_WRITE_FILE | FS_READ_DIR | FS_IOCTL_DEV)

struct ruleset_attr {
  __u64 handled_access_fs;
  __u64 handled_access_net;
  __u64 scoped;
};

struct path_beneath_attr {
  __u64 allowed_access;
  __s32 parent_fd;
} __attribute__((packed));

struct net_port_attr {
  __u64 allowed_access;
  __u64 port;
};

int landlock_abi(void) {
  long abi = syscall(LL_CREATE_RULESET, NULL, 0, LL_CREATE_RULESET_VERSION);
  return abi < 0 ? 0 : (int)abi;
}

static __u64 handled_fs(int abi) {
  __u64 all = (FS_MAKE_SYM << 1) - 1; /* ABI 1: bits 0-12 */
  if (abi >= 2) all |= FS_REFER;
  if (abi >= 3) all |= FS_TRUNCATE;
  if (abi >= 5) all |= FS_IOCTL_DEV;
  return all;
}

static __u64 rights_of(enum kind kind, __u64 handled) {
  if (kind == RW) return handled;
  if (kind == DEV) return DEV_RIGHTS & handled;
  return RO_RIGHTS & handled;
}

static int add_path_rule(int ruleset, const struct rule *rule, __u64 handled) {
  int fd = open(rule->path, O_PATH | O_CLOEXEC);
  /* A rule only grants: a path that is missing, or that this uid may not reach anyway, is skipped. */
  if (fd < 0) return errno == ENOENT || errno == ENOTDIR || errno == EACCES ? 0 : -1;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return -1;
  }
  struct path_beneath_attr attr = {.allowed_access = rights_of(rule->kind, handled), .parent_fd = fd};
  if (!S_ISDIR(st.st_mode)) attr.allowed_access &= FILE_RIGHTS;
  long rc = attr.allowed_access == 0 ? 0 : syscall(LL_ADD_RULE, ruleset, LL_RULE_PATH_BENEATH, &attr, 0);
  int saved = errno;
  close(fd);
  errno = saved;
  return rc == 0 ? 0 : -1;
}

int landlock_prepare(const struct rule *rules, int count, const struct net_policy *net, int min_abi) {
  int abi = landlock_abi();
  if (abi < min_abi) {
    fprintf(stderr, "ocpm-sandbox: Landlock ABI %d is below the required %d; nothing was run\n", abi, min_abi);
    return -1;
  }
  int restrict_net = net != NULL && net->restrict_connect;
  if (restrict_net && abi < 4) {
    fprintf(stderr, "ocpm-sandbox: TCP rules need Landlock ABI 4, the kernel has %d; nothing was run\n", abi);
    return -1;
  }
  struct ruleset_attr attr = {.handled_access_fs = handled_fs(abi), .handled_access_net = restrict_net ? NET_CONNECT_TCP : 0, .scoped = 0};
  size_t size = sizeof(__u64) * 2; /* ABI < 6 knows no `scoped` */
  if (abi >= 6) {
    attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL;
    size = sizeof(attr);
  }
  int ruleset = (int)syscall(LL_CREATE_RULESET, &attr, size, 0);
  if (ruleset < 0) {
    perror("ocpm-sandbox: landlock_create_ruleset");
    return -1;
  }
  for (int i = 0; i < count; i++) {
    if (add_path_rule(ruleset, &rules[i], attr.handled_access_fs) != 0) {
      fprintf(stderr, "ocpm-sandbox: cannot allow %s: %s\n", rules[i].path, strerror(errno));
      close(ruleset);
      return -1;
    }
  }
  for (int i = 0; restrict_net && i < net->count; i++) {
    struct net_port_attr port = {.allowed_access = NET_CONNECT_TCP, .port = net->ports[i]};
    if (syscall(LL_ADD_RULE, ruleset, LL_RULE_NET_PORT, &port, 0) != 0) {
      fprintf(stderr, "ocpm-sandbox: cannot allow TCP port %u: %s\n", net->ports[i], strerror(errno));
      close(ruleset);
      return -1;
    }
  }
  return ruleset;
}

int landlock_enforce(int ruleset) {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || syscall(LL_RESTRICT_SELF, ruleset, 0) != 0) {
    perror("ocpm-sandbox: landlock_restrict_self");
    close(ruleset);
    return -1;
  }
  close(ruleset);
  return 0;
}

int landlock_confine(const struct rule *rules, int count, const struct net_policy *net, int min_abi) {
  int ruleset = landlock_prepare(rules, count, net, min_abi);
  return ruleset < 0 ? -1 : landlock_enforce(ruleset);
}
