// What the CUDA runtime reports, and the device scope every GPU call runs under.
// Declared without CUDA types so the bindings compile in a CPU-only build too.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace ffaccel::cuda {

struct DeviceInfo {
    int index;
    std::string name;
    int major, minor;
    std::size_t total_memory;
};

struct RuntimeInfo {
    int runtime_version = 0;  // e.g. 13000 for 13.0: the statically linked runtime
    int driver_version = 0;   // 0 when no driver is installed
    std::vector<DeviceInfo> devices;
    std::string error;        // why devices could not be listed, if they could not
};

RuntimeInfo runtime_info();

// Makes `device` current for the lifetime of the scope and restores the caller's.
class DeviceScope {
public:
    explicit DeviceScope(int device);
    ~DeviceScope();
    DeviceScope(const DeviceScope&) = delete;
    DeviceScope& operator=(const DeviceScope&) = delete;

private:
    int previous_ = -1;
};

}  // namespace ffaccel::cuda
