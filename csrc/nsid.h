/* Namespace ids (nsids) of the names in a run directory: the read path of
 * `ip netns list`, in C.
 *
 * This file is both a C header (included by nsid.c) and part of the cffi
 * cdef, so it holds declarations only: no preprocessor lines, no
 * definitions. It uses size_t: an includer includes a system header first.
 *
 * Every function returns 0 or -errno and names the failing step (steps.h)
 * in *step. The nsids are those of the network namespace of the calling
 * thread (the netlink socket is made there); no function changes
 * namespaces.
 */

/* What happened to one entry of a listing. */
enum nsf_nsid_kind {
    NSF_NSID_OK = 0,          /* queried: nsid is its id, or -1 (none) */
    NSF_NSID_OPEN_FAILED = 1, /* open failed (e.g. it vanished): errno */
    NSF_NSID_QUERY_FAILED = 2 /* the kernel refused: errno and message */
};

/* Layout of nsf_nsid_list.recs: NSF_NSID_FIELDS ints per entry, in the
 * order kind, nsid, errno, name length, message length. */
enum nsf_nsid_layout {
    NSF_NSID_FIELDS = 5,
    NSF_NSID_MSG_MAX = 1024 /* bytes for a kernel message (with its NUL) */
};

/* A listing: count entries in directory order. text holds, entry after
 * entry, the name and then the kernel's ext-ack message (both without a
 * NUL; a message is empty when the kernel sent none). */
struct nsf_nsid_list {
    int count;
    int *recs;
    char *text;
    size_t text_len;
};

/* Every entry of run_dir except "." and "..", in directory order, each
 * with its nsid (one RTM_GETNSID with NETNSA_FD per entry, all over one
 * netlink socket). *out is set on success; free it with
 * nsf_nsid_list_free. Entries that cannot be opened or queried are listed
 * with what went wrong; only run_dir itself or the socket can fail.
 * Steps OPEN_RUN_DIR, READ_RUN_DIR, SOCKET_NETLINK, SEND_NETLINK,
 * RECV_NETLINK, MALLOC. */
int nsf_nsid_list(const char *run_dir, struct nsf_nsid_list **out, int *step);

/* Free a listing (NULL is fine). */
void nsf_nsid_list_free(struct nsf_nsid_list *list);

/* The nsid of run_dir/name (-1: none assigned) in *nsid. When the kernel
 * refuses (step NSF_STEP_RTM_GETNSID), msg gets its ext-ack message ("" if
 * none; msg_size bytes at most, with the NUL). Other steps PATH_TOO_LONG,
 * MALLOC, OPEN_NS, SOCKET_NETLINK, SEND_NETLINK, RECV_NETLINK. */
int nsf_nsid_get(const char *run_dir, const char *name, int *nsid, char *msg,
                 int msg_size, int *step);
