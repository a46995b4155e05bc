// "Did you mean ...?" for the command line: the names closest to a mistyped subcommand, option or model, and the
// options other tools spell differently (--batch-size is --batch here, --lr is --lr-g / --lr-d).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace gan::apps {

// Levenshtein distance (insertions, deletions, substitutions; an adjacent swap counts 1, as in "trian").
size_t edit_distance(const std::string& a, const std::string& b);

// The known names closest to `typed`, best first, at most `limit`; empty when none is close. Compared without
// leading dashes, case-insensitively and with '_' read as '-'. Matches, in order: an alias (other tools'
// spellings, for option names), names that extend the typed one (--lr -> --lr-g, --lr-d), a typed name that
// extends a known one (--batch-size -> --batch), then, only when none of those matched, small edit distances (at
// most 1 for short names, 2 from 5 letters, 3 from 9). Spellings of one name (--lr_g, --lr-g) count once.
std::vector<std::string> closest_names(const std::string& typed, const std::vector<std::string>& known,
                                       size_t limit = 3);

// " (did you mean 'train'?)", " (did you mean --lr-g or --lr-d?)", or "" when nothing is close. Options are
// written as typed (with their dashes), other names in quotes.
// `renamed` maps old spellings among `known` to the names that replaced them, which are suggested instead.
std::string did_you_mean(const std::string& typed, const std::vector<std::string>& known,
                         const std::map<std::string, std::string>& renamed = {});

}  // namespace gan::apps
