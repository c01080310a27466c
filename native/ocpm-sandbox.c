// ocpm-sandbox: runs a program confined by Landlock, without privileges, and keeps its whole process
// tree to its lifetime.
//
//   ocpm-sandbox --abi
//       prints the kernel's Landlock ABI version (0: unavailable) and exits 0.
//   ocpm-sandbox --probe
//       prints what the launcher can do here, one `name value` per line: abi, pidns (1: a PID
//       namespace can be made), caps (1: this process holds capabilities to drop), setuid (1: it
//       can run programs as other uids and chown their files).
//   ocpm-sandbox [--ro PATH]... [--rw PATH]... [--dev PATH]... [--min-abi N]
//                [--clear-env] [--keep-env NAME|PREFIX*]... [--lifetime pidns|subreaper|none]
//                [--grace-ms N] [--caps drop|keep] [--limits SPEC] -- PROGRAM [ARG]...
//       --ro   read and execute beneath PATH      --rw  everything beneath PATH
//       --dev  read and write existing files beneath PATH (device nodes), nothing created
//       Missing paths, and paths the caller may not reach, are skipped. Signals to, and ptrace of, processes outside the sandbox are
//       denied (ABI >= 6 scoping; ptrace is denied by Landlock itself), as are abstract UNIX
//       sockets created outside it. Fails closed: below --min-abi (default 6) it runs nothing.
//       --lifetime (default none): pidns runs the program in a PID namespace of its own (subreaper
//       where the kernel refuses one); either way nothing of its tree outlives it (lifetime.h).
//       --caps drop (default) leaves the program no capability. --limits: see privileges.h.
//       --uid N --gid N: the program runs as uid N, gid N, no supplementary group, umask 007
//       (the launcher needs CAP_SETUID and CAP_SETGID; --probe says `setuid 1`).
//   ocpm-sandbox -c COMMAND (any first argument that is not an option: "shell mode")
//       For use as SHELL: takes PATH lists from OCPM_SANDBOX_SHELL_RO / _RW / _DEV (colon-separated),
//       the environment names to keep from OCPM_SANDBOX_SHELL_ENV (comma-separated, PREFIX* allowed),
//       the TCP ports it may connect to from OCPM_SANDBOX_SHELL_TCP (comma-separated; unset: any),
//       resource limits from OCPM_SANDBOX_SHELL_LIMITS and the real shell from OCPM_SANDBOX_SHELL
//       (default /bin/bash); adds a nested sandbox, drops every other variable, and execs the shell.
//
// Exit codes: 125 the sandbox could not be set up (nothing was run), 127 PROGRAM not found; under
// --lifetime the program's own exit code, 128+N when signal N ended it.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "landlock.h"
#include "lifetime.h"
#include "privileges.h"

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

static int parse_ports(const char *list, struct net_policy *net) {
  net->restrict_connect = 1;
  net->count = 0;
  char *copy = strdup(list);
  char *items[MAX_ITEMS];
  int n = split_into(copy, ',', items, MAX_ITEMS);
  for (int i = 0; i < n; i++) {
    char *end = NULL;
    long port = strtol(items[i], &end, 10);
    if (end == items[i] || *end != '\0' || port < 1 || port > 65535) {
      fprintf(stderr, "ocpm-sandbox: not a TCP port: %s\n", items[i]);
      return -1;
    }
    net->ports[net->count++] = (unsigned short)port;
  }
  return 0;
}

static int shell_mode(char **argv) {
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
  struct net_policy net = {0};
  const char *tcp = getenv("OCPM_SANDBOX_SHELL_TCP");
  if (tcp != NULL && parse_ports(tcp, &net) != 0) return 125;
  const char *shell_value = getenv("OCPM_SANDBOX_SHELL");
  char *shell = strdup(shell_value != NULL && shell_value[0] != '\0' ? shell_value : "/bin/bash");
  const char *env_value = getenv("OCPM_SANDBOX_SHELL_ENV");
  char *keep[MAX_ITEMS];
  int keep_count = env_value == NULL ? 0 : split_into(strdup(env_value), ',', keep, MAX_ITEMS);
  if (apply_limits(getenv("OCPM_SANDBOX_SHELL_LIMITS")) != 0) return 125;
  if (landlock_confine(rules, count, &net, 6) != 0) return 125;
  clear_env(keep, keep_count);
  argv[0] = shell;
  execv(shell, argv);
  fprintf(stderr, "ocpm-sandbox: cannot run %s: %s\n", shell, strerror(errno));
  return 127;
}

struct launch {
  struct rule rules[MAX_ITEMS + 1];
  int count;
  char *keep[MAX_ITEMS];
  int keep_count;
  int clear;
  int min_abi;
  int keep_caps;
  /* -1: keep the launcher's uid. */
  long uid;
  long gid;
  const char *limits;
  char **program;
};

/* In the process that becomes the program: limits, no capabilities, Landlock, environment, exec. */
static int run_program(void *arg, int private_shm) {
  struct launch *launch = arg;
  if (private_shm) launch->rules[launch->count++] = (struct rule){RW, "/dev/shm"};
  int ruleset = landlock_prepare(launch->rules, launch->count, NULL, launch->min_abi);
  if (ruleset < 0) return 125;
  if (apply_limits(launch->limits) != 0) return 125;
  if (launch->uid >= 0) {
    if (become((unsigned)launch->uid, (unsigned)launch->gid) != 0) {
      perror("ocpm-sandbox: cannot switch to the session's uid");
      return 125;
    }
    /* Files the agent makes are its and its group's (the workspace's setgid group), never others'. */
    umask(007);
  }
  if (!launch->keep_caps && drop_capabilities() != 0) {
    perror("ocpm-sandbox: cannot drop capabilities");
    return 125;
  }
  if (landlock_enforce(ruleset) != 0) return 125;
  if (launch->clear) clear_env(launch->keep, launch->keep_count);
  execvp(launch->program[0], launch->program);
  fprintf(stderr, "ocpm-sandbox: cannot run %s: %s\n", launch->program[0], strerror(errno));
  return 127;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "--abi") == 0) {
    printf("%d\n", landlock_abi());
    return 0;
  }
  if (argc >= 2 && strcmp(argv[1], "--probe") == 0) {
    printf("abi %d\npidns %d\ncaps %d\nsetuid %d\n", landlock_abi(), pidns_available(), holds_capabilities(), can_switch_uid());
    return 0;
  }
  if (argc >= 2 && strncmp(argv[1], "--", 2) != 0) return shell_mode(argv);

  static struct launch launch = {.min_abi = 6, .uid = -1, .gid = -1};
  struct lifetime_options lifetime = {.want = LIFETIME_NONE, .grace_ms = 2000};
  int i = 1;
  for (; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--") == 0) {
      i++;
      break;
    }
    int has_value = i + 1 < argc;
    int room = launch.count < MAX_ITEMS;
    if (strcmp(arg, "--clear-env") == 0) {
      launch.clear = 1;
    } else if (has_value && room && strcmp(arg, "--ro") == 0) {
      launch.rules[launch.count++] = (struct rule){RO, argv[++i]};
    } else if (has_value && room && strcmp(arg, "--rw") == 0) {
      launch.rules[launch.count++] = (struct rule){RW, argv[++i]};
    } else if (has_value && room && strcmp(arg, "--dev") == 0) {
      launch.rules[launch.count++] = (struct rule){DEV, argv[++i]};
    } else if (has_value && launch.keep_count < MAX_ITEMS && strcmp(arg, "--keep-env") == 0) {
      launch.keep[launch.keep_count++] = argv[++i];
    } else if (has_value && strcmp(arg, "--min-abi") == 0) {
      launch.min_abi = atoi(argv[++i]);
    } else if (has_value && strcmp(arg, "--grace-ms") == 0) {
      lifetime.grace_ms = atoi(argv[++i]);
    } else if (has_value && strcmp(arg, "--uid") == 0) {
      launch.uid = strtol(argv[++i], NULL, 10);
    } else if (has_value && strcmp(arg, "--gid") == 0) {
      launch.gid = strtol(argv[++i], NULL, 10);
    } else if (has_value && strcmp(arg, "--limits") == 0) {
      launch.limits = argv[++i];
    } else if (has_value && strcmp(arg, "--caps") == 0 && (strcmp(argv[i + 1], "drop") == 0 || strcmp(argv[i + 1], "keep") == 0)) {
      launch.keep_caps = strcmp(argv[++i], "keep") == 0;
    } else if (has_value && strcmp(arg, "--lifetime") == 0) {
      const char *value = argv[++i];
      lifetime.want = strcmp(value, "pidns") == 0 ? LIFETIME_PIDNS : strcmp(value, "subreaper") == 0 ? LIFETIME_SUBREAPER : LIFETIME_NONE;
      if (lifetime.want == LIFETIME_NONE && strcmp(value, "none") != 0) {
        fprintf(stderr, "ocpm-sandbox: unknown --lifetime %s\n", value);
        return 125;
      }
    } else {
      fprintf(stderr, "ocpm-sandbox: unknown or incomplete option %s\n", arg);
      return 125;
    }
  }
  if (i >= argc) {
    fprintf(stderr, "ocpm-sandbox: no program given (… -- PROGRAM [ARG]...)\n");
    return 125;
  }
  if ((launch.uid >= 0) != (launch.gid >= 0) || launch.uid == 0) {
    fprintf(stderr, "ocpm-sandbox: --uid and --gid go together, and not as 0\n");
    return 125;
  }
  launch.program = &argv[i];
  if (lifetime.want == LIFETIME_NONE) return run_program(&launch, 0);
  enum lifetime used = LIFETIME_NONE;
  return supervise(&lifetime, run_program, &launch, &used);
}
