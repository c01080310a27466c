// Capabilities and resource limits of a sandboxed program (see privileges.h).
#define _GNU_SOURCE
#include "privileges.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <grp.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SECBIT_NOROOT (1 << 0)
#define SECBIT_NOROOT_LOCKED (1 << 1)
#define SECBIT_NO_SETUID_FIXUP (1 << 2)
#define SECBIT_NO_SETUID_FIXUP_LOCKED (1 << 3)
#define SECBIT_KEEP_CAPS_LOCKED (1 << 5)
#define SECBIT_NO_CAP_AMBIENT_RAISE (1 << 6)
#define SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED (1 << 7)

static int read_caps(struct __user_cap_data_struct data[2]) {
  struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  return (int)syscall(SYS_capget, &header, data);
}

int holds_capabilities(void) {
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof(data));
  if (read_caps(data) != 0) return 1;
  return (data[0].effective | data[1].effective | data[0].permitted | data[1].permitted) != 0;
}

int can_switch_uid(void) {
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof(data));
  if (read_caps(data) != 0) return 0;
  __u32 needed = (1U << CAP_SETUID) | (1U << CAP_SETGID) | (1U << CAP_CHOWN);
  return (data[0].effective & needed) == needed;
}

static int drop_bounding_set(void) {
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof(data));
  if (read_caps(data) != 0) return -1;
  if ((data[0].effective & (1U << CAP_SETPCAP)) == 0) return 0;
  for (int cap = 0; cap < 64; cap++) {
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) return -1;
  }
  int bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
  return prctl(PR_SET_SECUREBITS, bits, 0, 0, 0);
}

int become(unsigned uid, unsigned gid) {
  if (drop_bounding_set() != 0) return -1;
  if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0) return -1;
  return getuid() == uid && geteuid() == uid && getgid() == gid ? 0 : -1;
}

int drop_capabilities(void) {
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof(data));
  if (read_caps(data) != 0) return -1;
  int has_setpcap = (data[0].effective & (1U << CAP_SETPCAP)) != 0;
  if (has_setpcap) {
    for (int cap = 0; cap < 64; cap++) {
      if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) return -1;
    }
    int bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
               SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
    /* Already locked by become(): setting the same bits again is refused, and not needed. */
    if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) != 0 && prctl(PR_GET_SECUREBITS, 0, 0, 0, 0) < 0) return -1;
  }
  /* EINVAL: a kernel without ambient capabilities, which then has none to clear. */
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) return -1;
  struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  memset(data, 0, sizeof(data));
  if (syscall(SYS_capset, &header, data) != 0) return -1;
  return holds_capabilities() ? -1 : 0;
}

static int set_limit(int resource, const char *value) {
  char *end = NULL;
  errno = 0;
  unsigned long long n = strtoull(value, &end, 10);
  if (errno != 0 || end == value || *end != '\0') return -1;
  struct rlimit limit;
  if (getrlimit(resource, &limit) != 0) return -1;
  rlim_t wanted = (rlim_t)n;
  /* Only ever lowered: a sandbox never gets more than its launcher had. */
  if (limit.rlim_max != RLIM_INFINITY && wanted > limit.rlim_max) wanted = limit.rlim_max;
  limit.rlim_cur = wanted;
  limit.rlim_max = wanted;
  return setrlimit(resource, &limit);
}

int apply_limits(const char *spec) {
  if (spec == NULL || spec[0] == '\0') return 0;
  char *copy = strdup(spec);
  int rc = 0;
  for (char *save = NULL, *item = strtok_r(copy, ",", &save); item != NULL && rc == 0; item = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(item, '=');
    if (eq == NULL) {
      rc = -1;
      break;
    }
    *eq = '\0';
    const char *value = eq + 1;
    int resource = strcmp(item, "data") == 0     ? RLIMIT_DATA
                   : strcmp(item, "fsize") == 0  ? RLIMIT_FSIZE
                   : strcmp(item, "nofile") == 0 ? RLIMIT_NOFILE
                   : strcmp(item, "nproc") == 0  ? RLIMIT_NPROC
                   : strcmp(item, "core") == 0   ? RLIMIT_CORE
                                                 : -1;
    if (resource < 0 || set_limit(resource, value) != 0) {
      fprintf(stderr, "ocpm-sandbox: cannot set the limit %s=%s: %s\n", item, value, resource < 0 ? "unknown limit" : strerror(errno));
      rc = -1;
    }
  }
  free(copy);
  return rc;
}
