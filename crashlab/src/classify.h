// The classification rules: which kind of crash the facts show, with the evidence for it,
// a one-line summary and the culprit frame.
#pragma once

#include "crash.h"

namespace crashlab {

// Sets kind, summary, evidence and culprit from the facts already in A. Pure: unit tests
// build an Analysis by hand and call it.
void classify(Analysis& a);

}  // namespace crashlab
