#pragma once
// `rmgait export`: a checkpoint's evaluation-mode model as an ONNX file (opset 17, standard
// operators only), from silhouettes "sils" [N, T, H, W] (f32 in [0, 1]; N and T dynamic) to the
// embedding "embedding" [N, C, P] that `rmgait embed` computes. Built with the ONNX project's
// own schema (Debian's libonnx-dev) and checked by its checker and shape inference before it is
// written (atomically). The metadata carries rmgait's version, the effective configuration, the
// checkpoint's iteration and the model's fingerprint (the gallery's, pipeline/gallery.h).
#include <string>

#include "gait/model.h"
#include "pipeline/config.h"

namespace rmgait::pipeline {

// The model (put in evaluation mode) as an ONNX file; cfg and iteration go to the metadata.
// Returns a line saying what was written.
std::string write_onnx(gait::ReverseMaskModel& model, const TrainConfig& cfg, int64_t iteration,
                       const std::string& out);

struct ExportRequest {
  std::string checkpoint, config;  // config: for a checkpoint without one (PyTorch .pt)
  std::string out;                 // model.onnx
};

// The checkpoint's model through write_onnx.
std::string export_onnx(const ExportRequest& request);

}  // namespace rmgait::pipeline
