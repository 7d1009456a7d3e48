// driver_cp_tangent.cpp — C++ driver cases for op(s) cp_tangent (see driver.cpp). TO BE WRITTEN with the
// kernel: reports no case yet, so the driver's case count shows the gap.
#include "driver_common.h"

void driver_cp_tangent() {}
