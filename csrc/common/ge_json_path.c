/* ge_json field paths: ge_json_path_get, lodash _.get's rules over
 * validated text (see ge_json.h). Index definitions name a field of an
 * event with such a path (docs/protocol.md, "## Parameters"). */
#include <string.h>

#include "ge_json.h"
#include "ge_json_text.h"

/* lodash reIsDeepProp: /\.|\[(?:[^[\]]*|(["'])(?:(?!\1)[^\\]|\\.)*?\1)\]/ */
static int path_is_deep(const char *s, const char *e) {
    for (const char *i = s; i < e; i++)
        if (*i == '.') return 1;
    for (const char *i = s; i < e; i++) {
        if (*i != '[') continue;
        const char *k = i + 1;
        while (k < e && *k != '[' && *k != ']') k++;
        if (k < e && *k == ']') return 1;
        k = i + 1;
        if (k < e && (*k == '"' || *k == '\'')) {
            char q = *k++;
            while (k < e) {
                if (*k == '\\') {
                    if (e - k < 2) break;
                    k += 2;
                } else if (*k == q) {
                    if (e - k >= 2 && k[1] == ']') return 1;
                    break;
                } else {
                    k++;
                }
            }
        }
    }
    return 0;
}

/* The next segment of a path, as lodash's stringToPath finds them with
 * /[^.[\]]+|\[(?:(-?\d+(?:\.\d+)?)|(["'])((?:(?!\2)[^\\]|\\.)*?)\2)\]
 *  |(?=(?:\.|\[\])(?:\.|\[\]|$))/g. Returns 1 with *s set, 0 at the end. */
static int path_next(const char **ip, const char *e, ge__json_key *s) {
    const char *i = *ip;
    while (i < e) {
        char c = *i;
        if (c != '.' && c != '[' && c != ']') {
            const char *st = i;
            while (i < e && *i != '.' && *i != '[' && *i != ']') i++;
            *s = (ge__json_key){st, (size_t)(i - st), 0};
            *ip = i;
            return 1;
        }
        if (c == '[') {
            const char *j = i + 1;
            /* [-?\d+(\.\d+)?] */
            if (j < e && *j == '-') j++;
            if (j < e && IS_DIGIT(*j)) {
                while (j < e && IS_DIGIT(*j)) j++;
                if (e - j >= 2 && *j == '.' && IS_DIGIT(j[1])) {
                    j++;
                    while (j < e && IS_DIGIT(*j)) j++;
                }
                if (j < e && *j == ']') {
                    *s = (ge__json_key){i + 1, (size_t)(j - i - 1), 0};
                    *ip = j + 1;
                    return 1;
                }
            }
            /* ["..."] or ['...'] */
            j = i + 1;
            if (j < e && (*j == '"' || *j == '\'')) {
                char q = *j++;
                const char *st = j;
                while (j < e) {
                    if (*j == '\\') {
                        if (e - j < 2) {
                            j = e;
                            break;
                        }
                        j += 2;
                    } else if (*j == q) {
                        break;
                    } else {
                        j++;
                    }
                }
                if (e - j >= 2 && *j == q && j[1] == ']') {
                    *s = (ge__json_key){st, (size_t)(j - st), 1};
                    *ip = j + 2;
                    return 1;
                }
            }
        }
        /* the empty match: at "." or "[]" followed by ".", "[]" or the end */
        if (c == '.' || (c == '[' && e - i >= 2 && i[1] == ']')) {
            const char *k = i + (c == '.' ? 1 : 2);
            if (k == e || *k == '.' || (*k == '[' && e - k >= 2 && k[1] == ']')) {
                *s = (ge__json_key){i, 0, 0};
                *ip = i + 1;
                return 1;
            }
        }
        i++;
    }
    *ip = e;
    return 0;
}

int ge_json_path_get(ge_slice root, const char *path, ge_slice *value) {
    if (!path) return 0;
    size_t plen = strlen(path);
    const char *e = path + plen, *i = path;
    ge__json_key whole = {path, plen, 0}, first, s;
    ge_slice cur;
    int have_first;

    if (!path_is_deep(path, e)) {
        if (!ge__json_member(root, whole, &cur)) return 0;
        *value = cur;
        return 1;
    }
    if (*path == '.') {
        first = (ge__json_key){path, 0, 0};
        have_first = 1;
    } else {
        have_first = path_next(&i, e, &first);
    }
    if (ge_json_type_of(root) == GE_JSON_OBJECT) {
        /* _.get first tries the whole path as a key of the object; one
         * pass over the root looks for it and for the first segment */
        ge_json_iter it;
        ge_slice k, v, wv = {NULL, 0};
        int fw = 0, ff = 0;
        ge_json_iter_begin(&it, root);
        while (ge_json_iter_next(&it, &k, &v)) {
            uptr p = (uptr)k.p + 1, ke = (uptr)k.p + k.n - 1;
            if (ge__json_body_equals(p, ke, whole)) wv = v, fw = 1;
            if (have_first && ge__json_body_equals(p, ke, first)) cur = v, ff = 1;
        }
        if (fw) {
            *value = wv;
            return 1;
        }
        if (!ff) return 0;
    } else {
        if (!have_first || !ge__json_member(root, first, &cur)) return 0;
    }
    while (path_next(&i, e, &s))
        if (!ge__json_member(cur, s, &cur)) return 0;
    *value = cur;
    return 1;
}

