// Status helpers used across Savant. Every call that can fail returns absl::Status or
// absl::StatusOr<T>; these macros propagate errors without hand-written if-chains.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/strings/str_cat.h"

#define SAVANT_CONCAT_INNER_(a, b) a##b
#define SAVANT_CONCAT_(a, b) SAVANT_CONCAT_INNER_(a, b)

// Returns from the enclosing function when `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                        \
  do {                                               \
    ::absl::Status savant_status_ = (expr);          \
    if (!savant_status_.ok()) return savant_status_; \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, Foo());` declares or assigns `x` from a StatusOr, or returns its error.
#define ASSIGN_OR_RETURN(decl, expr) \
  SAVANT_ASSIGN_OR_RETURN_IMPL_(SAVANT_CONCAT_(savant_statusor_, __LINE__), decl, expr)
#define SAVANT_ASSIGN_OR_RETURN_IMPL_(tmp, decl, expr) \
  auto tmp = (expr);                                   \
  if (!tmp.ok()) return std::move(tmp).status();       \
  decl = std::move(tmp).value()

namespace savant {

// Returns `status` with `context` prepended ("context: message"), keeping its code. Each layer adds
// only the context it owns, so messages read from the outside in.
inline absl::Status Annotate(const absl::Status& status, absl::string_view context) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(context, ": ", status.message()));
}

}  // namespace savant

// Like RETURN_IF_ERROR, but prefixes the error message with `context` (a string expression).
#define RETURN_IF_ERROR_CTX(expr, context)                                      \
  do {                                                                          \
    ::absl::Status savant_status_ = (expr);                                     \
    if (!savant_status_.ok()) return ::savant::Annotate(savant_status_, context); \
  } while (0)
