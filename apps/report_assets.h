// The script and styles that report.html inlines, compiled in from apps/report.js and apps/report.css (CMake
// copies them into report_assets.cpp at configure time, from apps/report_assets.cpp.in).
#pragma once

namespace gan::apps {

extern const char* const kReportScript;  // apps/report.js
extern const char* const kReportStyle;   // apps/report.css

}  // namespace gan::apps
