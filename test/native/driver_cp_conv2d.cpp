// driver_cp_conv2d.cpp — C++ driver cases for op(s) cp_conv2d (see driver.cpp). TO BE WRITTEN with the
// kernel: reports no case yet, so the driver's case count shows the gap.
#include "driver_common.h"

void driver_cp_conv2d() {}
