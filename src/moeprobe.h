// The embedding surface of the moeprobe library in one include, for programs that link
// moeprobe::core (find_package(moeprobe)): open a checkpoint, load a suite, run it, write or
// compare reports, synthesise a checkpoint. Installed as <moeprobe/moeprobe.h>; the headers it
// names keep their own paths under include/moeprobe/.
#pragma once

#include "util/data_dir.h"
#include "util/error.h"

#include "io/checkpoint.h"
#include "model/family.h"
#include "model/moe_model.h"

#include "metrics/metric.h"
#include "suite/compare.h"
#include "suite/result.h"
#include "suite/runner.h"
#include "suite/schema.h"

#include "reports/write_reports.h"

#include "synth/generator.h"
#include "synth/recipe.h"
