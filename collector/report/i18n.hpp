#pragma once
// The reports' language: common/i18n.hpp (the catalogue of the "vigie" domain, numbers,
// dates and durations for a reader), named in the collector's namespace.

#include "common/i18n.hpp"

namespace vigie::collector {

using vigie::Catalogue;
using vigie::catalogue_candidates;
using vigie::Day;
using vigie::find_catalogue;
using vigie::Lang;
using vigie::lang_code;
using vigie::Locale;
using vigie::N_;
using vigie::parse_lang;

}  // namespace vigie::collector
