/* Drives nsf_nsid_list and nsf_nsid_get (csrc/nsid.c) under the
 * sanitizers: a run dir with more entries than one netlink window (so the
 * listing runs on several threads), live names and stale files mixed.
 * Usage: nsid_driver RUN_DIR. Prints "nsid_driver: ok" and exits 0. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "steps.h"
#include "lifecycle.h"
#include "nsid.h"

#define LIVE 100
#define STALE 40


int main(int argc, char **argv)
{
    static char names[LIVE + STALE][32];
    const char *live[LIVE];
    int results[LIVE + STALE], steps[LIVE + STALE];
    struct nsf_nsid_list *list = NULL;
    const char *all[LIVE + STALE];
    char path[4096], msg[NSF_NSID_MSG_MAX];
    int i, step, nsid, seen_live = 0, seen_stale = 0, round;
    size_t pos = 0;
    DIR *dir;
    struct dirent *de;

    if (argc != 2)
        return 2;
    for (i = 0; i < LIVE + STALE; i++) {
        snprintf(names[i], sizeof(names[i]), "%s%d", i < LIVE ? "l" : "s", i);
        all[i] = names[i];
        if (i < LIVE)
            live[i] = names[i];
    }
    CHECK(nsf_add_many(argv[1], live, LIVE, 2, results, steps) == 0);
    for (i = LIVE; i < LIVE + STALE; i++) {
        snprintf(path, sizeof(path), "%s/%s", argv[1], names[i]);
        int fd = open(path, O_RDONLY | O_CREAT | O_EXCL, 0);
        CHECK(fd >= 0);
        close(fd);
    }
    for (round = 0; round < 3; round++) {
        CHECK(nsf_nsid_list(argv[1], &list, &step) == 0);
        if (!list)
            break;
        CHECK(list->count == LIVE + STALE);
        /* Directory order: the same as a readdir pass. */
        dir = opendir(argv[1]);
        CHECK(dir != NULL);
        pos = 0;
        for (i = 0; dir && (de = readdir(dir));) {
            size_t len;
            int *rec;

            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            CHECK(i < list->count);
            if (i >= list->count)
                break;
            rec = list->recs + i * NSF_NSID_FIELDS;
            len = (size_t)rec[3];
            CHECK(len == strlen(de->d_name));
            CHECK(memcmp(list->text + pos, de->d_name, len) == 0);
            if (de->d_name[0] == 'l') {
                CHECK(rec[0] == NSF_NSID_OK && rec[1] == -1);
                seen_live++;
            } else {
                CHECK(rec[0] == NSF_NSID_QUERY_FAILED && rec[2] == EINVAL);
                seen_stale++;
            }
            pos += len + (size_t)rec[4];
            i++;
        }
        if (dir)
            closedir(dir);
        CHECK(pos == list->text_len);
        nsf_nsid_list_free(list);
        list = NULL;
    }
    CHECK(seen_live == 3 * LIVE && seen_stale == 3 * STALE);
    CHECK(nsf_nsid_get(argv[1], "l0", &nsid, msg, sizeof(msg), &step) == 0);
    CHECK(nsid == -1);
    CHECK(nsf_nsid_get(argv[1], "s100", &nsid, msg, sizeof(msg), &step) ==
          -EINVAL);
    CHECK(step == NSF_STEP_RTM_GETNSID && strlen(msg) > 0);
    CHECK(nsf_nsid_get(argv[1], "nope", &nsid, msg, sizeof(msg), &step) ==
          -ENOENT);
    CHECK(nsf_nsid_list("/nonexistent-nsft", &list, &step) == -ENOENT);
    CHECK(list == NULL && step == NSF_STEP_OPEN_RUN_DIR);
    CHECK(nsf_delete_many(argv[1], all, LIVE + STALE, 2, results, steps) ==
          0);
    if (failures)
        return 1;
    printf("nsid_driver: ok\n");
    return 0;
}
