// ocpm-sandbox: runs a program confined by Landlock, unprivileged (no capabilities, no namespaces).
// The sandbox is inherited by every descendant and cannot be lifted; nested calls only narrow it.
//
//   ocpm-sandbox --abi
//       prints the kernel's Landlock ABI version (0: unavailable) and exits 0.
//   ocpm-sandbox [--ro PATH]... [--rw PATH]... [--dev PATH]... [--min-abi N]
//                [--clear-env] [--keep-env NAME|PREFIX*]... -- PROGRAM [ARG]...
//       --ro   read and execute beneath PATH      --rw  everything beneath PATH
//       --dev  read and write existing files beneath PATH (device nodes), nothing created
//       Missing paths are skipped. Signals to, and ptrace of, processes outside the sandbox are
//       denied (ABI >= 6 scoping; ptrace is denied by Landlock itself), as are abstract UNIX
//       sockets created outside it. Fails closed: below --min-abi (default 6) it runs nothing.
//   ocpm-sandbox -c COMMAND (any first argument that is not an option: "shell mode")
//       For use as SHELL: takes PATH lists from OCPM_SANDBOX_SHELL_RO / _RW / _DEV (colon-separated),
//       the environment names to keep from OCPM_SANDBOX_SHELL_ENV (comma-separated, PREFIX* allowed)
//       and the real shell from OCPM_SANDBOX_SHELL (default /bin/bash); adds a nested sandbox, drops
//       every other variable, and execs the real shell with the same arguments.
//
// Exit codes: 125 the sandbox could not be set up (nothing was run), 127 PROGRAM not found.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/types.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

// From linux/landlock.h (kernel 6.12+); Debian bookworm's headers predate most of it.
#define LL_CREATE_RULESET 444
#define LL_ADD_RULE 445
#define LL_RESTRICT_SELF 446
#define LL_CREATE_RULESET_VERSION (1U << 0)
#define LL_RULE_PATH_BENEATH 1

#define FS_EXECUTE (1ULL << 0)
#define FS_WRITE_FILE (1ULL << 1)
#define FS_READ_FILE (1ULL << 2)
#define FS_READ_DIR (1ULL << 3)
#define FS_REMOVE_DIR (1ULL << 4)
#define FS_REMOVE_FILE (1ULL << 5)
#define FS_MAKE_CHAR (1ULL << 6)
#define FS_MAKE_DIR (1ULL << 7)
#define FS_MAKE_REG (1ULL << 8)
#define FS_MAKE_SOCK (1ULL << 9)
#define FS_MAKE_FIFO (1ULL << 10)
#define FS_MAKE_BLOCK (1ULL << 11)
#define FS_MAKE_SYM (1ULL << 12)
#define FS_REFER (1ULL << 13)    /* ABI 2 */
#define FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#define FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
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

enum kind { RO, RW, DEV };
struct rule {
  enum kind kind;
  const char *path;
};

static int landlock_abi(void) {
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

static int add_rule(int ruleset, const struct rule *rule, __u64 handled) {
  int fd = open(rule->path, O_PATH | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
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

static int confine(const struct rule *rules, int count, int min_abi) {
  int abi = landlock_abi();
  if (abi < min_abi) {
    fprintf(stderr, "ocpm-sandbox: Landlock ABI %d is below the required %d; nothing was run\n", abi, min_abi);
    return -1;
  }
  struct ruleset_attr attr = {.handled_access_fs = handled_fs(abi), .handled_access_net = 0, .scoped = 0};
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
    if (add_rule(ruleset, &rules[i], attr.handled_access_fs) != 0) {
      fprintf(stderr, "ocpm-sandbox: cannot allow %s: %s\n", rules[i].path, strerror(errno));
      close(ruleset);
      return -1;
    }
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || syscall(LL_RESTRICT_SELF, ruleset, 0) != 0) {
    perror("ocpm-sandbox: landlock_restrict_self");
    close(ruleset);
    return -1;
  }
  close(ruleset);
  return 0;
}

static int keeps(const char *entry, char **keep, int count) {
  size_t name_len = strcspn(entry, "=");
  for (int i = 0; i < count; i++) {
    size_t len = strlen(keep[i]);
    if (len > 0 && keep[i][len - 1] == '*') {
      if (name_len >= len - 1 && strncmp(entry, keep[i], len - 1) == 0) return 1;
    } else if (name_len == len && strncmp(entry, keep[i], len) == 0) {
      return 1;
    }
  }
  return 0;
}

/* Removes every variable not named in `keep` (in place). */
static void clear_env(char **keep, int count) {
  extern char **environ;
  int out = 0;
  for (int in = 0; environ[in] != NULL; in++) {
    if (keeps(environ[in], keep, count)) environ[out++] = environ[in];
  }
  environ[out] = NULL;
}

static int split_into(char *list, char sep, char **out, int max) {
  int n = 0;
  for (char *token = strtok(list, (char[]){sep, 0}); token != NULL && n < max; token = strtok(NULL, (char[]){sep, 0})) {
    out[n++] = token;
  }
  return n;
}

#define MAX_ITEMS 256

static int shell_mode(int argc, char **argv) {
  struct rule rules[MAX_ITEMS];
  int count = 0;
  const char *names[] = {"OCPM_SANDBOX_SHELL_RO", "OCPM_SANDBOX_SHELL_RW", "OCPM_SANDBOX_SHELL_DEV"};
  const enum kind kinds[] = {RO, RW, DEV};
  for (int k = 0; k < 3; k++) {
    const char *value = getenv(names[k]);
    if (value == NULL) continue;
    char *copy = strdup(value);
    char *paths[MAX_ITEMS];
    int n = split_into(copy, ':', paths, MAX_ITEMS - count);
    for (int i = 0; i < n; i++) rules[count++] = (struct rule){kinds[k], paths[i]};
  }
  const char *shell_value = getenv("OCPM_SANDBOX_SHELL");
  char *shell = strdup(shell_value != NULL && shell_value[0] != '\0' ? shell_value : "/bin/bash");
  const char *env_value = getenv("OCPM_SANDBOX_SHELL_ENV");
  char *keep[MAX_ITEMS];
  int keep_count = env_value == NULL ? 0 : split_into(strdup(env_value), ',', keep, MAX_ITEMS);
  if (confine(rules, count, 6) != 0) return 125;
  clear_env(keep, keep_count);
  argv[0] = shell;
  execv(shell, argv);
  fprintf(stderr, "ocpm-sandbox: cannot run %s: %s\n", shell, strerror(errno));
  (void)argc;
  return 127;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "--abi") == 0) {
    printf("%d\n", landlock_abi());
    return 0;
  }
  if (argc >= 2 && strncmp(argv[1], "--", 2) != 0) return shell_mode(argc, argv);

  struct rule rules[MAX_ITEMS];
  char *keep[MAX_ITEMS];
  int count = 0, keep_count = 0, clear = 0, min_abi = 6, i = 1;
  for (; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--") == 0) {
      i++;
      break;
    }
    int has_value = i + 1 < argc;
    if (strcmp(arg, "--clear-env") == 0) {
      clear = 1;
    } else if (has_value && count < MAX_ITEMS && strcmp(arg, "--ro") == 0) {
      rules[count++] = (struct rule){RO, argv[++i]};
    } else if (has_value && count < MAX_ITEMS && strcmp(arg, "--rw") == 0) {
      rules[count++] = (struct rule){RW, argv[++i]};
    } else if (has_value && count < MAX_ITEMS && strcmp(arg, "--dev") == 0) {
      rules[count++] = (struct rule){DEV, argv[++i]};
    } else if (has_value && keep_count < MAX_ITEMS && strcmp(arg, "--keep-env") == 0) {
      keep[keep_count++] = argv[++i];
    } else if (has_value && strcmp(arg, "--min-abi") == 0) {
      min_abi = atoi(argv[++i]);
    } else {
      fprintf(stderr, "ocpm-sandbox: unknown or incomplete option %s\n", arg);
      return 125;
    }
  }
  if (i >= argc) {
    fprintf(stderr, "ocpm-sandbox: no program given (… -- PROGRAM [ARG]...)\n");
    return 125;
  }
  if (confine(rules, count, min_abi) != 0) return 125;
  if (clear) clear_env(keep, keep_count);
  execvp(argv[i], &argv[i]);
  fprintf(stderr, "ocpm-sandbox: cannot run %s: %s\n", argv[i], strerror(errno));
  return 127;
}
