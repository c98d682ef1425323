#pragma once
// What a training job is, as every rank of a data-parallel run must agree on it
// (DataParallel::check_same_job): the effective settings (but where the dataset lies and where
// rank 0 writes), what the dataset and the checkpoints hold (fingerprints of their contents, so
// that copies at other paths agree), the device and rmgait's version.
#include <string>
#include <vector>

#include "data/packed.h"
#include "pipeline/config.h"
#include "pipeline/data_parallel.h"

namespace rmgait::pipeline {

std::vector<DataParallel::Fact> training_job_facts(const TrainConfig& cfg,
                                                   const data::PackedDataset& ds,
                                                   const std::string& resume,
                                                   const std::string& weights, Device device);

}  // namespace rmgait::pipeline
