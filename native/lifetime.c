// Process-tree lifetime for ocpm-sandbox (see lifetime.h).
//
// PID namespace:  launcher (outside) -> init (pid 1 inside, unconfined, reaps) -> program (confined)
//   The init exits with the program; the kernel then SIGKILLs everything else in the namespace. The
//   init dies with the launcher (PR_SET_PDEATHSIG), and the launcher is told when the service dies.
// Subreaper:      launcher (subreaper, unconfined) -> program (confined)
//   Orphans of the tree are reparented to the launcher, so it finds all of them by parent pid in
//   /proc and kills them until it has no child left.
// Landlock scoping keeps the confined tree from signalling or tracing the unconfined launcher/init.
#define _GNU_SOURCE
#include "lifetime.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t target_pid = 0;
static volatile sig_atomic_t grace_armed = 0;
static int grace_ms_value = 2000;

static void arm_grace(void) {
  if (grace_armed) return;
  grace_armed = 1;
  struct itimerval timer = {{0, 0}, {grace_ms_value / 1000, (grace_ms_value % 1000) * 1000}};
  if (timer.it_value.tv_sec == 0 && timer.it_value.tv_usec == 0) timer.it_value.tv_usec = 1000;
  setitimer(ITIMER_REAL, &timer, NULL);
}

/* SIGTERM, SIGINT, SIGHUP, SIGQUIT: passed on to the program (through the init), then the grace starts. */
static void forward_signal(int sig) {
  int saved = errno;
  if (target_pid > 0) kill((pid_t)target_pid, sig);
  arm_grace();
  errno = saved;
}

static void on_alarm(int sig) {
  (void)sig;
  int saved = errno;
  if (target_pid > 0) kill((pid_t)target_pid, SIGKILL);
  errno = saved;
}

static void install_handlers(int with_alarm) {
  struct sigaction action;
  memset(&action, 0, sizeof(action));
  sigemptyset(&action.sa_mask);
  action.sa_handler = forward_signal;
  int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};
  for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++) sigaction(forwarded[i], &action, NULL);
  if (with_alarm) {
    action.sa_handler = on_alarm;
    sigaction(SIGALRM, &action, NULL);
  }
}

static void reset_handlers(void) {
  int all[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGALRM};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) signal(all[i], SIG_DFL);
}

static int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 125;
}

static int write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = write(fd, text, strlen(text));
  close(fd);
  return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* A PID and mount namespace: directly with CAP_SYS_ADMIN, else inside a user namespace that maps
   only our own uid and gid (no privilege over anything outside). */
static int enter_namespaces(void) {
  if (unshare(CLONE_NEWPID | CLONE_NEWNS) == 0) return 0;
  uid_t uid = geteuid();
  gid_t gid = getegid();
  if (unshare(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS) != 0) return -1;
  char map[64];
  snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
  if (write_file("/proc/self/uid_map", map) != 0) return -1;
  if (write_file("/proc/self/setgroups", "deny\n") != 0 && errno != ENOENT) return -1;
  snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
  return write_file("/proc/self/gid_map", map);
}

int pidns_available(void) {
  pid_t child = fork();
  if (child < 0) return 0;
  if (child == 0) _exit(enter_namespaces() == 0 ? 0 : 1);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Inside the new namespaces: our own /proc (only the session's processes) and /dev/shm. */
static int private_mounts(void) {
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return 0;
  /* Failure keeps the outer /proc: Landlock still limits it to the process's own entries. */
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) {
  }
  return mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=67108864") == 0;
}

static pid_t start_worker(int (*worker)(void *, int), void *arg, int private_shm) {
  pid_t child = fork();
  if (child != 0) return child;
  reset_handlers();
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  _exit(worker(arg, private_shm));
}

/* Collects the pids whose parent chain reaches `root` (by /proc/<pid>/stat) and SIGKILLs them. */
static int kill_descendants(pid_t root) {
  int capacity = 1024, count = 0, killed = 0;
  pid_t *pids = malloc(sizeof(pid_t) * capacity);
  pid_t *parents = malloc(sizeof(pid_t) * capacity);
  DIR *proc = opendir("/proc");
  if (proc == NULL || pids == NULL || parents == NULL) {
    if (proc != NULL) closedir(proc);
    free(pids);
    free(parents);
    return 0;
  }
  for (struct dirent *entry = readdir(proc); entry != NULL; entry = readdir(proc)) {
    if (!isdigit((unsigned char)entry->d_name[0])) continue;
    char path[300], buffer[512];
    snprintf(path, sizeof(path), "/proc/%s/stat", entry->d_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n = read(fd, buffer, sizeof(buffer) - 1);
    close(fd);
    if (n <= 0) continue;
    buffer[n] = '\0';
    char *close_paren = strrchr(buffer, ')');
    char state;
    int ppid;
    if (close_paren == NULL || sscanf(close_paren + 1, " %c %d", &state, &ppid) != 2) continue;
    if (count == capacity) {
      capacity *= 2;
      pid_t *more_pids = realloc(pids, sizeof(pid_t) * capacity);
      pid_t *more_parents = realloc(parents, sizeof(pid_t) * capacity);
      if (more_pids == NULL || more_parents == NULL) break;
      pids = more_pids;
      parents = more_parents;
    }
    pids[count] = atoi(entry->d_name);
    parents[count] = ppid;
    count++;
  }
  closedir(proc);
  char *member = calloc((size_t)count, 1);
  for (int grew = 1; grew && member != NULL;) {
    grew = 0;
    for (int i = 0; i < count; i++) {
      if (member[i]) continue;
      int parent_is_member = parents[i] == root;
      for (int j = 0; !parent_is_member && j < count; j++) parent_is_member = member[j] && pids[j] == parents[i];
      if (parent_is_member) {
        member[i] = 1;
        grew = 1;
        if (kill(pids[i], SIGKILL) == 0) killed++;
      }
    }
  }
  free(member);
  free(pids);
  free(parents);
  return killed;
}

/* Subreaper: SIGKILL the tree until the launcher has no child left (orphans come back to it). */
static void kill_tree(void) {
  for (;;) {
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    siginfo_t info;
    memset(&info, 0, sizeof(info));
    if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 && errno == ECHILD) return;
    kill_descendants(getpid());
    usleep(2000);
  }
}

static int wait_for(pid_t child) {
  int status = 0;
  for (;;) {
    pid_t done = waitpid(-1, &status, 0);
    if (done == child) return status;
    if (done < 0 && errno == ECHILD) return status;
  }
}

static int run_init(int (*worker)(void *, int), void *arg) {
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  int private_shm = private_mounts();
  pid_t program = start_worker(worker, arg, private_shm);
  if (program < 0) return 125;
  target_pid = program;
  install_handlers(0);
  /* Our exit makes the kernel kill the rest of the namespace. */
  return exit_code(wait_for(program));
}

int supervise(const struct lifetime_options *options, int (*worker)(void *, int), void *arg, enum lifetime *used) {
  grace_ms_value = options->grace_ms;
  /* The service spawns us: when it dies, the tree gets its grace and then goes. */
  prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
  if (options->want == LIFETIME_PIDNS && enter_namespaces() == 0) {
    *used = LIFETIME_PIDNS;
    pid_t init = fork();
    if (init < 0) return 125;
    if (init == 0) _exit(run_init(worker, arg));
    target_pid = init;
    install_handlers(1);
    return exit_code(wait_for(init));
  }
  *used = LIFETIME_SUBREAPER;
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) return 125;
  pid_t program = start_worker(worker, arg, 0);
  if (program < 0) return 125;
  target_pid = program;
  install_handlers(1);
  int status = wait_for(program);
  target_pid = 0;
  kill_tree();
  return exit_code(status);
}
