/*
 * config: the effective config as YAML, every default filled in, in the
 * order of the key table (lanyardctl config check, modelled on sshd -T).
 * What was read from a *_file is never printed, only its path; strings are
 * double-quoted so that the output reads back as the same config.
 */
#include "build-config.h"
#include "banned.h"

#include "lanyard/config.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"

/*
 * The length of the UTF-8 sequence at s that a YAML reader would not take
 * back raw (YAML 1.1 §5.1, §5.4: C1 controls, the BOM, U+FFFE/U+FFFF are not
 * printable; NEL, LS and PS are line breaks), with its code point; else 0.
 */
static size_t unprintable_utf8(const unsigned char *s, unsigned *cp)
{
    if (s[0] == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f) {
        *cp = s[1];
        return 2;
    }
    if ((s[0] == 0xe2 && s[1] == 0x80 && (s[2] == 0xa8 || s[2] == 0xa9)) ||
        (s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf) ||
        (s[0] == 0xef && s[1] == 0xbf && (s[2] == 0xbe || s[2] == 0xbf))) {
        *cp = (unsigned)(s[0] & 0x0f) << 12 | (unsigned)(s[1] & 0x3f) << 6 | (s[2] & 0x3fu);
        return 3;
    }
    return 0;
}

/* A YAML double-quoted scalar that reads back as the same string. */
static void dump_string(FILE *fp, const char *s)
{
    fputc('"', fp);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        unsigned cp = 0;
        size_t n;
        if (c == '"' || c == '\\') {
            fprintf(fp, "\\%c", c);
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(fp, "\\x%02x", c);
        } else if (c >= 0x80 && (n = unprintable_utf8((const unsigned char *)s, &cp)) > 0) {
            fprintf(fp, "\\u%04X", cp);
            s += n - 1;
        } else {
            fputc(c, fp);
        }
    }
    fputc('"', fp);
}

static void dump_value(FILE *fp, const struct ly_config *cfg, const struct key *k)
{
    const void *field = (const char *)cfg + k->off;
    const size_t *count = (const size_t *)((const char *)cfg + k->aux_off);
    char buf[INET6_ADDRSTRLEN + 8];

    switch (k->type) {
    case K_STRING:
        dump_string(fp, *(char *const *)field);
        break;
    case K_BOOL:
        fputs(*(const bool *)field ? "true" : "false", fp);
        break;
    case K_UINT:
        fprintf(fp, "%u", *(const unsigned *)field);
        break;
    case K_U64:
        fprintf(fp, "%" PRIu64, *(const uint64_t *)field);
        break;
    case K_DURATION:
        ly_cfg_duration_format(*(const int64_t *)field, buf, sizeof(buf));
        fputs(buf, fp);
        break;
    case K_ENUM: {
        int v = *(const int *)field;
        const char *name = "unknown";
        for (int i = 0; k->names[i] != NULL; i++)
            if (i == v)
                name = k->names[i];
        fputs(name, fp);
        break;
    }
    case K_STRLIST: {
        char *const *list = *(char **const *)field;
        fputc('[', fp);
        for (size_t i = 0; i < *count; i++) {
            if (i > 0)
                fputs(", ", fp);
            dump_string(fp, list[i]);
        }
        fputc(']', fp);
        break;
    }
    case K_HOSTS:
        if (*count == 0) {
            dump_string(fp, *(char *const *)field);
            break;
        }
        fputc('[', fp);
        for (size_t i = 0; i < *count; i++) {
            const struct ly_db_host *h = &cfg->database.hosts[i];
            fputs(i > 0 ? ", " : "", fp);
            if (h->port == 0) {
                dump_string(fp, h->name);
            } else {
                char hp[300];
                snprintf(hp, sizeof(hp), "%s:%u", h->name, h->port);
                dump_string(fp, hp);
            }
        }
        fputc(']', fp);
        break;
    case K_CIDRLIST: {
        const struct ly_cidr *list = *(struct ly_cidr *const *)field;
        fputc('[', fp);
        for (size_t i = 0; i < *count; i++) {
            if (inet_ntop(list[i].family, list[i].addr, buf, sizeof(buf)) == NULL)
                snprintf(buf, sizeof(buf), "?");
            fprintf(fp, "%s\"%s/%u\"", i ? ", " : "", buf, list[i].prefix);
        }
        fputc(']', fp);
        break;
    }
    }
}

/* Section headers are printed when a key's path leaves the previous key's sections. */
void ly_config_dump(const struct ly_config *cfg, FILE *fp)
{
    const char *prev = "";

    fputs("# lanyard effective configuration, read from ", fp);
    for (const char *p = cfg->path ? cfg->path : "-"; *p; p++)
        fputc((unsigned char)*p < 0x20 ? '?' : *p, fp);
    fputs("\n", fp);
    for (size_t i = 0; i < ly_cfg_n_keys; i++) {
        const char *path = ly_cfg_keys[i].path, *leaf = strrchr(path, '.') + 1;
        size_t common = 0, depth = 0;

        /* the length of the section prefix this key shares with the previous one */
        for (size_t j = 0; path[j] && path[j] == prev[j]; j++)
            if (path[j] == '.')
                common = j + 1;
        for (size_t j = 0; j < common; j++)
            depth += path[j] == '.';
        for (const char *s = path + common; s < leaf; depth++) {
            const char *dot = strchr(s, '.');
            fprintf(fp, "%*s%.*s:\n", (int)(depth * 2), "", (int)(dot - s), s);
            s = dot + 1;
        }
        fprintf(fp, "%*s%s: ", (int)(depth * 2), "", leaf);
        dump_value(fp, cfg, &ly_cfg_keys[i]);
        fputc('\n', fp);
        prev = path;
    }
}
