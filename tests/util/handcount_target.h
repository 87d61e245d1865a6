// gap8 as the hand-counted tests know it: the shipped targets/gap8.json with its kernel lists replaced by the
// portable kernels at PULP-NN's published rates (conv and pointwise 4x2 blocking at 1.8 MAC/cycle/core, fc 4x1 at
// 1.0, depthwise 1x1 at 0.4, pools 1.0 and add 0.125 elements/cycle/core: the DORY paper's numbers, which the
// shipped gap8 carried before its kernels were measured on GVSoC).
//
// Why frozen: the cost-model, tiler, report and evaluation tests check numbers counted by hand from these rates
// (one_conv's 628.5 cycles, the paper's Table 1 analog). The shipped targets' rates are measurements that move when
// the kernels or the calibration change (docs/results.md); the formulas these tests check do not. Everything but
// the kernels (memories, DMA, energy) is the shipped file's, so a change there still shows.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "target/target.h"

namespace dory::test {

inline const char* handcount_gap8_kernels_json() {
  return R"({
    "conv": [{"impl": ["dory_conv_u8s8_4x2__c", "dory_conv_s8s8_4x2__c", "dory_conv_any_4x2__c"],
              "macs_per_cycle": 1.8, "call_cycles": 300, "row_cycles": 40, "im2col_cycles_per_byte": 0.5, "split": "rows"}],
    "pointwise": [{"impl": ["dory_pointwise_u8s8_4x2__c", "dory_pointwise_s8s8_4x2__c", "dory_pointwise_any_4x2__c"],
                   "macs_per_cycle": 1.8, "call_cycles": 300, "row_cycles": 40, "im2col_cycles_per_byte": 0, "split": "rows"}],
    "depthwise": [{"impl": ["dory_depthwise_u8s8_1x1__c", "dory_depthwise_s8s8_1x1__c", "dory_depthwise_any_1x1__c"],
                   "macs_per_cycle": 0.4, "call_cycles": 300, "row_cycles": 40, "im2col_cycles_per_byte": 0, "split": "channels"}],
    "fc": [{"impl": ["dory_fc_u8s8_4x1__c", "dory_fc_s8s8_4x1__c", "dory_fc_any_4x1__c"],
            "macs_per_cycle": 1.0, "call_cycles": 300, "row_cycles": 10, "im2col_cycles_per_byte": 0, "split": "channels"}],
    "pool": [{"impl": ["dory_maxpool_u8__c", "dory_maxpool_s8__c", "dory_maxpool_any__c", "dory_avgpool_u8__c",
                       "dory_avgpool_s8__c", "dory_avgpool_any__c"],
              "elements_per_cycle": 1.0, "call_cycles": 150, "row_cycles": 20, "split": "rows"}],
    "add": [{"impl": ["dory_add_u8__c", "dory_add_s8__c", "dory_add_any__c", "dory_requantize_u8__c",
                      "dory_requantize_s8__c", "dory_requantize_any__c"],
             "elements_per_cycle": 0.125, "call_cycles": 150, "row_cycles": 20, "split": "rows"}]
  })";
}

// The hand-count gap8's JSON text (a target file; CLI tests write it to a file and pass its path).
inline std::string handcount_gap8_json() {
  Expected<Target> shipped = find_target("gap8");
  if (!shipped.ok()) {
    ADD_FAILURE() << shipped.error().str();
    return {};
  }
  std::ifstream in(shipped->origin);
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(ss.str());
  j["kernels"] = nlohmann::ordered_json::parse(handcount_gap8_kernels_json());
  return j.dump(2);
}

// The hand-count gap8 as a target file (for the CLI: --target PATH), written once per test process.
inline std::string handcount_gap8_file() {
  static const std::string path = [] {
    const std::string p = (std::filesystem::temp_directory_path() /
                           ("dory-handcount-gap8-" + std::to_string(static_cast<long>(::getpid())) + ".json"))
                              .string();
    std::ofstream(p) << handcount_gap8_json();
    return p;
  }();
  return path;
}

inline const Target& handcount_gap8() {
  static const Target t = [] {
    Expected<Target> p = parse_target(handcount_gap8_json(), "tests/util/handcount_target.h (gap8, hand counts)");
    if (!p.ok()) ADD_FAILURE() << p.error().str();
    return p.ok() ? *p : Target{};
  }();
  return t;
}

}  // namespace dory::test
