// rmgait: the command line. Each subcommand declares its options and makes one library call
// (pipeline/, data/); errors end in "rmgait: error: ..." and a non-zero exit.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/convert.h"
#include "data/packed.h"
#include "data/syngait.h"
#include "distributed/world.h"
#include "engine/error.h"
#include "engine/npy.h"
#include "pipeline/bench.h"
#include "pipeline/config.h"
#include "pipeline/evaluation.h"
#include "pipeline/gallery.h"
#include "pipeline/inference.h"
#include "pipeline/model_io.h"
#include "pipeline/onnx_export.h"
#include "pipeline/report.h"
#include "pipeline/run.h"
#include "pipeline/trainer.h"
#include "pipeline/visualize.h"

using namespace rmgait;

namespace {

const char* kCheckpointHelp = "rmgait, safetensors or PyTorch (.pt) checkpoint";
const char* kConfigHelp = "the model's configuration, for a checkpoint without one (PyTorch .pt)";
const char* kPrecisionHelp = "f32 or bf16 convs and matmuls (default: the training's)";

CLI::Option* device_option(CLI::App* cmd, std::string& device) {
  return cmd->add_option("--device", device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
}
CLI::Option* precision_option(CLI::App* cmd, std::string& precision) {
  return cmd->add_option("--precision", precision, kPrecisionHelp)
      ->check(CLI::IsMember({"f32", "bf16"}));
}
// eval, embed, enroll, identify: the CPU's f32 conv algorithm (engine/precision.h)
CLI::Option* conv_option(CLI::App* cmd, std::string& algorithm) {
  return cmd
      ->add_option("--conv-algorithm", algorithm,
                   "direct or winograd f32 convs on the CPU (default: evaluator_cfg's, winograd)")
      ->check(CLI::IsMember({"direct", "winograd"}));
}

// What the chosen subcommand does once the command line is parsed, and the shared options.
struct Cli {
  std::function<void()> run;
  int status = 0;
  std::string device = "cpu";
};

void add_synth(CLI::App& app, Cli& cli) {
  struct Opts {
    data::SynGaitOptions so;
    std::string out, size;
    bool aligned = false;
  };
  auto o = std::make_shared<Opts>();
  auto* c = app.add_subcommand("synth", "render the SynGait procedural dataset");
  c->add_option("out", o->out, "output (a packed dataset with --aligned)")->required();
  c->add_option("--subjects", o->so.subjects, "number of subjects (CASIA-B: 124)");
  c->add_option("--seed", o->so.seed, "seed");
  c->add_option("--frames", o->so.frames, "frames per sequence (default 60-90)");
  c->add_flag("--aligned", o->aligned, "pretreat and write the packed 64x64 dataset directly");
  c->add_option("--size", o->size, "frame size WxH (default 160x120)");
  c->callback([&cli, o] {
    cli.run = [o] {
      if (!o->size.empty()) {
        int w = 0, h = 0;
        RM_CHECK(std::sscanf(o->size.c_str(), "%dx%d", &w, &h) == 2 && w >= 32 && h >= 32,
                 "synth: --size '", o->size, "': expected WxH, both at least 32");
        o->so.width = w, o->so.height = h;
      }
      if (!o->aligned) {
        data::synth_png_tree(o->so, o->out, true);
        std::printf("%s: %d subjects rendered as a CASIA-B PNG tree\n", o->out.c_str(),
                    o->so.subjects);
        return;
      }
      const int64_t dropped = data::synth_aligned(o->so, o->out, true);
      std::printf("%s: %d subjects written; %lld frames dropped by pretreatment\n", o->out.c_str(),
                  o->so.subjects, (long long)dropped);
    };
  });
}

void add_pretreat_and_pack(CLI::App& app, Cli& cli) {
  struct Opts {
    std::string src, dst, layout = "casiab";
  };
  auto o = std::make_shared<Opts>();
  auto* pretreat = app.add_subcommand("pretreat", "pretreat a raw PNG tree into a packed dataset");
  pretreat->add_option("src", o->src, "CASIA-B (<sid>/<cond>-<seq>/<view>/*.png) or OU-MVLP tree")
      ->required();
  pretreat->add_option("dst", o->dst, "packed dataset to write")->required();
  pretreat->add_option("--layout", o->layout)->check(CLI::IsMember({"casiab", "oumvlp"}));
  auto* pack = app.add_subcommand("pack", "pack OpenGait's pretreated pkl tree");
  pack->add_option("--from-pkl", o->src, "<sid>/<cond>-<seq>/<view>/<name>.pkl")->required();
  pack->add_option("out", o->dst, "packed dataset to write")->required();
  auto convert = [&cli, o](bool from_pkl) {
    cli.run = [&cli, o, from_pkl] {
      const data::ConvertSummary sum =
          from_pkl ? data::pack_from_pkl(o->src, o->dst, true)
                   : data::pretreat_tree(o->src, o->dst, data::parse_layout(o->layout), true);
      std::printf("%s: %s", o->dst.c_str(), sum.report().c_str());
      cli.status = sum.sequences_written > 0 ? 0 : 1;
    };
  };
  pretreat->callback([convert] { convert(false); });
  pack->callback([convert] { convert(true); });
}

void add_info(CLI::App& app, Cli& cli) {
  auto path = std::make_shared<std::string>();
  auto* c = app.add_subcommand("info", "describe a packed dataset");
  c->add_option("dataset", *path)->required();
  c->callback([&cli, path] {
    cli.run = [path] { std::printf("%s", data::describe(data::PackedDataset(*path)).c_str()); };
  });
}

void add_train(CLI::App& app, Cli& cli) {
  struct Opts {
    std::string config;
    std::vector<std::string> sets;
    pipeline::TrainOptions train;
  };
  auto o = std::make_shared<Opts>();
  auto* c = app.add_subcommand("train", "train a model");
  c->add_option("--config", o->config, "YAML configuration")->required();
  c->add_option("--set", o->sets, "override: section.key=value");
  c->add_option("--resume", o->train.resume, "continue from a checkpoint");
  c->add_option("--resume-weights", o->train.weights,
                "start from a checkpoint's weights (rmgait, safetensors or PyTorch .pt)");
  device_option(c, cli.device);
  c->callback([&cli, o] {
    cli.run = [&cli, o] {
      o->train.device = pipeline::parse_device(cli.device);
      pipeline::train(pipeline::load_config(o->config, o->sets), o->train);
    };
  });
}

// "f32" / "bf16" as given, or none: the training's
std::optional<Precision> precision_of(const std::string& s) {
  return s.empty() ? std::nullopt : std::optional<Precision>(parse_precision(s));
}
std::optional<ConvAlgorithm> conv_of(const std::string& s) {
  return s.empty() ? std::nullopt : std::optional<ConvAlgorithm>(parse_conv_algorithm(s));
}

void add_eval(CLI::App& app, Cli& cli) {
  struct Opts {
    pipeline::CheckpointEval ev;
    std::string distance = "per_part", precision, conv, out;
  };
  auto o = std::make_shared<Opts>();
  auto* c = app.add_subcommand("eval", "evaluate a checkpoint (rank-1, excluding identical views)");
  c->add_option("--checkpoint", o->ev.checkpoint, kCheckpointHelp)->required();
  c->add_option("--config", o->ev.config, kConfigHelp);
  c->add_option("--dataset", o->ev.dataset)->required();
  c->add_option("--protocol", o->ev.protocol, "casiab-st|casiab-mt|casiab-lt|casiab-lt73|oumvlp");
  c->add_option("--out", o->out, "write OUT.json and OUT.csv");
  c->add_option("--distance", o->distance)->check(CLI::IsMember({"per_part", "flattened"}));
  c->add_option("--memory-mb", o->ev.memory_mb,
                "bound on the scorer's own memory in MiB (distance tiles; default 1024)");
  device_option(c, cli.device);
  precision_option(c, o->precision);
  conv_option(c, o->conv);
  c->callback([&cli, o] {
    cli.run = [&cli, o] {
      o->ev.distance = gait::parse_distance(o->distance);
      o->ev.precision = precision_of(o->precision);
      o->ev.conv_algorithm = conv_of(o->conv);
      o->ev.device = pipeline::parse_device(cli.device);
      const pipeline::EvalReport r = pipeline::evaluate_checkpoint(o->ev);
      if (r.text.empty()) return;  // a rank other than 0
      std::printf("%s", r.text.c_str());
      if (!o->out.empty()) pipeline::write_results(r.table, o->out);
    };
  });
}

// embed and visualize: a checkpoint and one sequence
struct SequenceOpts {
  pipeline::SequenceRequest request;
  std::string precision, conv, out;
};
void sequence_options(CLI::App* c, SequenceOpts& o) {
  c->add_option("--checkpoint", o.request.checkpoint, kCheckpointHelp)->required();
  c->add_option("--config", o.request.config, kConfigHelp);
  c->add_option("--sils", o.request.npy, "f32 [T, H, W] in [0, 1] or u8 .npy")
      ->excludes(c->add_option("--dir", o.request.png_dir, "folder of raw silhouette PNGs"));
}
void print_dropped(const std::vector<std::string>& dropped) {
  for (const std::string& d : dropped) std::fprintf(stderr, "skipping %s\n", d.c_str());
}

void add_embed(CLI::App& app, Cli& cli) {
  auto o = std::make_shared<SequenceOpts>();
  auto* c = app.add_subcommand("embed", "embed one sequence: [C, P] .npy");
  sequence_options(c, *o);
  c->add_option("--out", o->out)->required();
  device_option(c, cli.device);
  precision_option(c, o->precision);
  conv_option(c, o->conv);
  c->callback([&cli, o] {
    cli.run = [&cli, o] {
      o->request.precision = precision_of(o->precision);
      o->request.conv_algorithm = conv_of(o->conv);
      o->request.device = pipeline::parse_device(cli.device);
      const pipeline::Embedding e = pipeline::embed_sequence(o->request);
      print_dropped(e.dropped);
      save_npy(o->out, e.embedding);
      std::printf("%s: embedding %s\n", o->out.c_str(), shape_str(e.embedding.shape()).c_str());
    };
  });
}

// enroll and identify: a gallery of identities (pipeline/gallery.h)
void add_enroll(CLI::App& app, Cli& cli) {
  struct Opts {
    pipeline::EnrollRequest r;
    std::string precision, conv;
  };
  auto o = std::make_shared<Opts>();
  auto* c = app.add_subcommand("enroll", "embed sequences and add them to a gallery");
  c->add_option("--checkpoint", o->r.checkpoint, kCheckpointHelp)->required();
  c->add_option("--config", o->r.config, kConfigHelp);
  c->add_option("--gallery", o->r.gallery, "gallery .safetensors (made when missing)")->required();
  auto* sils = c->add_option("--sils", o->r.npy, "f32 [T, H, W] in [0, 1] or u8 .npy");
  auto* dir = c->add_option("--dir", o->r.png_dir, "folder of raw silhouette PNGs");
  auto* ds =
      c->add_option("--dataset", o->r.dataset, "packed dataset: its sequences of --subjects");
  sils->excludes(dir)->excludes(ds);
  dir->excludes(ds);
  c->add_option("--label", o->r.label, "the identity of the --sils / --dir sequence")->excludes(ds);
  c->add_option("--subjects", o->r.subjects, "with --dataset: subjects (each its own label)")
      ->delimiter(',')
      ->needs(ds);
  c->add_option("--conditions", o->r.conditions, "with --dataset: only these (nm,bg-01,...)")
      ->delimiter(',')
      ->needs(ds);
  c->add_option("--views", o->r.views, "with --dataset: only these (000,090,...)")
      ->delimiter(',')
      ->needs(ds);
  device_option(c, cli.device);
  precision_option(c, o->precision);
  conv_option(c, o->conv);
  c->callback([&cli, o] {
    cli.run = [&cli, o] {
      o->r.precision = precision_of(o->precision);
      o->r.conv_algorithm = conv_of(o->conv);
      o->r.device = pipeline::parse_device(cli.device);
      const pipeline::EnrollReport rep = pipeline::enroll(o->r);
      print_dropped(rep.dropped);
      std::printf("%s: %lld added, %lld replaced, %lld in the gallery\n", o->r.gallery.c_str(),
                  static_cast<long long>(rep.count.added),
                  static_cast<long long>(rep.count.replaced), static_cast<long long>(rep.size));
    };
  });
}

void add_identify(CLI::App& app, Cli& cli) {
  struct Opts : SequenceOpts {
    pipeline::IdentifyRequest r;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* c = app.add_subcommand("identify", "the nearest enrolled identities of one sequence");
  sequence_options(c, *o);
  c->add_option("--gallery", o->r.gallery, "gallery .safetensors (rmgait enroll)")->required();
  c->add_option("--top", o->r.top, "how many identities (default 5)")->check(CLI::PositiveNumber);
  c->add_option("--memory-mb", o->r.memory_mb,
                "gallery bytes held at once by the search, in MiB (default 1024)")
      ->check(CLI::PositiveNumber);
  c->add_flag("--json", o->json, "print the matches as JSON");
  device_option(c, cli.device);
  precision_option(c, o->precision);
  conv_option(c, o->conv);
  c->callback([&cli, o] {
    cli.run = [&cli, o] {
      o->r.checkpoint = o->request.checkpoint, o->r.config = o->request.config;
      o->r.npy = o->request.npy, o->r.png_dir = o->request.png_dir;
      o->r.precision = precision_of(o->precision);
      o->r.conv_algorithm = conv_of(o->conv);
      o->r.device = pipeline::parse_device(cli.device);
      const pipeline::Identification id = pipeline::identify(o->r);
      print_dropped(id.dropped);
      std::printf("%s", pipeline::format_matches(id, o->json).c_str());
    };
  });
}

void add_export(CLI::App& app, Cli& cli) {
  auto r = std::make_shared<pipeline::ExportRequest>();
  auto* c = app.add_subcommand("export", "the evaluation-mode model as ONNX (sils -> embedding)");
  c->add_option("--checkpoint", r->checkpoint, kCheckpointHelp)->required();
  c->add_option("--config", r->config, kConfigHelp);
  c->add_option("--out", r->out, "model.onnx")->required();
  c->callback(
      [&cli, r] { cli.run = [r] { std::printf("%s\n", pipeline::export_onnx(*r).c_str()); }; });
}

void add_visualize(CLI::App& app, Cli& cli) {
  struct Opts : SequenceOpts {
    int64_t frame = -1;
    uint64_t seed = 1;
  };
  auto o = std::make_shared<Opts>();
  auto* c = app.add_subcommand("visualize", "the paper's Fig. 1: activation maps as PNG files");
  sequence_options(c, *o);
  c->add_option("--out", o->out, "folder for the PNG files")->required();
  c->add_option("--frame", o->frame, "the frame shown (default: the middle one)");
  c->add_option("--seed", o->seed, "seed of the drawn masks");
  c->callback([&cli, o] {
    cli.run = [o] {
      std::vector<std::string> dropped;
      for (const std::string& f :
           pipeline::visualize_sequence(o->request, o->frame, o->out, o->seed, &dropped))
        std::printf("%s\n", f.c_str());
      print_dropped(dropped);
    };
  });
}

void add_bench(CLI::App& app, Cli& cli) {
  struct Opts {
    std::string config, precision, gate;
    std::vector<std::string> sets;
    pipeline::BenchOptions bench;
  };
  auto o = std::make_shared<Opts>();
  auto* c = app.add_subcommand("bench", "time a training step and inference");
  c->add_option("--config", o->config)->required();
  c->add_option("--set", o->sets, "override: section.key=value");
  c->add_option("--iters", o->bench.iters, "timed steps after one warm-up step (default 3)");
  c->add_option("--classes", o->bench.classes, "identities of the model (default 74)");
  device_option(c, cli.device);
  precision_option(c, o->precision);
  c->add_option("--baseline-step", o->bench.baseline_step,
                "under mpirun: the step time (s) of one process on the same cores (all the "
                "ranks' threads), to report scaling efficiency against");
  c->add_flag("--profile-step", o->bench.profile_step,
              "mark the first timed step for a device profiler (tools/gpu-profile.sh)");
  c->add_flag("--breakdown", o->bench.breakdown,
              "one more step with every kernel timed: its time per op family");
  c->add_option("--export", o->bench.export_onnx,
                "also write the benchmarked model as ONNX (bench/onnx_runtime.sh times it)");
  c->add_option("--gate", o->gate,
                "IN,OUT: file descriptors; each step and inference run waits for a byte on IN "
                "and reports its seconds on OUT (bench/interleave.py)");
  c->callback([&cli, o] {
    cli.run = [&cli, o] {
      if (!o->gate.empty()) {
        int in = -1, out = -1, end = 0;
        RM_CHECK(std::sscanf(o->gate.c_str(), "%d,%d%n", &in, &out, &end) == 2 &&
                     end == int(o->gate.size()) && in >= 0 && out >= 0,
                 "bench: --gate '", o->gate, "': expected IN,OUT, two file descriptors");
        o->bench.gate_in = in, o->bench.gate_out = out;
      }
      if (!o->precision.empty()) o->sets.push_back("trainer_cfg.precision=" + o->precision);
      o->bench.device = pipeline::parse_device(cli.device);
      const pipeline::TrainConfig cfg = pipeline::load_config(o->config, o->sets);
      std::printf("%s", pipeline::bench(cfg, o->bench).text.c_str());
    };
  });
}

void add_convert(CLI::App& app, Cli& cli) {
  struct Opts {
    std::string in, out;
    bool opengait = false;
  };
  auto o = std::make_shared<Opts>();
  auto* c = app.add_subcommand("convert", "PyTorch .pt <-> safetensors (OpenGait checkpoints)");
  c->add_option("in", o->in, "IN.pt or a safetensors checkpoint")->required();
  c->add_option("out", o->out, "OUT.safetensors or OUT.pt")->required();
  c->add_flag("--opengait", o->opengait, "write OpenGait's {'model': ..., 'iteration': n}");
  c->callback([&cli, o] {
    cli.run = [o] {
      std::printf("%s\n", pipeline::convert_checkpoint(o->in, o->out, o->opengait).c_str());
    };
  });
}

void add_report(CLI::App& app, Cli& cli) {
  struct Opts {
    std::vector<std::string> runs;
    std::string out;
  };
  auto o = std::make_shared<Opts>();
  auto* c = app.add_subcommand("report", "an HTML report (SVG figures) of training runs");
  c->add_option("runs", o->runs, "run directories (log.jsonl, eval.json)")->required();
  c->add_option("--out", o->out, "the HTML file (default: RUN_DIR/report.html)");
  c->callback([&cli, o] {
    cli.run = [o] {
      const pipeline::ReportFiles f = pipeline::write_report(o->runs, o->out);
      std::printf("%s: report of %zu run(s), figures in %s/\n", f.html.c_str(), o->runs.size(),
                  f.figures.c_str());
    };
  });
}

void add_config(CLI::App& app, Cli& cli) {
  auto files = std::make_shared<std::vector<std::string>>();
  auto* c = app.add_subcommand("config", "translate an OpenGait configuration");
  c->add_option("--from-opengait", *files, "IN.yaml OUT.yaml (OpenGait -> rmgait)")
      ->expected(2)
      ->required();
  c->callback([&cli, files] {
    cli.run = [files] {
      pipeline::write_config_from_opengait((*files)[0], (*files)[1]);
      std::printf("%s: rmgait configuration from %s\n", (*files)[1].c_str(), (*files)[0].c_str());
    };
  });
}

void add_version(CLI::App& app, Cli& cli) {
  app.add_subcommand("version", "version and what this build can use")->callback([&cli] {
    cli.run = [] {
      std::printf(
          "rmgait %s\nCUDA backend: %s\nMPI: %s\nNCCL: %s\n", RMGAIT_VERSION,
          device_available(Device::cuda) ? "yes" : device_unavailable_reason(Device::cuda).c_str(),
          dist::built_with_mpi() ? "yes" : "no (built without MPI)",
          dist::built_with_nccl() ? "yes" : "no (built without NCCL)");
    };
  });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rmgait: gait recognition with ReverseMask"};
  app.require_subcommand(1);
  Cli cli;
  for (auto add : {add_synth, add_pretreat_and_pack, add_info, add_train, add_eval, add_embed,
                   add_enroll, add_identify, add_export, add_bench, add_convert, add_visualize,
                   add_report, add_config, add_version})
    add(app, cli);
  CLI11_PARSE(app, argc, argv);
  return pipeline::run_main("rmgait", cli.device == "cuda", [&] {
    cli.run();
    return cli.status;
  });
}
