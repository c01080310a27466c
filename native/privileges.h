// What a sandboxed program may hold: no capability in any set, and per-process resource limits.
#ifndef OCPM_PRIVILEGES_H
#define OCPM_PRIVILEGES_H

/* Drops every capability: bounding set (when CAP_SETPCAP is held), ambient, inheritable,
   permitted and effective, and locks root's special treatment off (securebits). -1 on failure. */
int drop_capabilities(void);

/* Whether the caller holds any capability in its effective or permitted set. */
int holds_capabilities(void);

/* Whether the caller may run programs under other uids and hand them files (CAP_SETUID, CAP_SETGID, CAP_CHOWN). */
int can_switch_uid(void);

/* Drops the bounding set and locks securebits (while CAP_SETPCAP is still held), then becomes uid:gid
   with no supplementary group. -1 on failure. */
int become(unsigned uid, unsigned gid);

/* Applies limits given as "data=BYTES,fsize=BYTES,nofile=N,nproc=N,core=BYTES" (missing: unchanged). -1 on a bad spec. */
int apply_limits(const char *spec);

#endif
