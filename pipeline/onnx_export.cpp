#include "pipeline/onnx_export.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <cctype>
#include <map>
#include <set>

#include "engine/atomic_file.h"
#include "engine/error.h"
#include "pipeline/gallery.h"
#include "pipeline/model_io.h"

namespace rmgait::pipeline {

namespace {

constexpr int kOpset = 17;  // ReduceMax / ReduceMean take axes as attributes up to 17

// The ONNX graph of a ReverseMaskModel in evaluation mode, node by node. Initializers are named
// as the model's state dict (OpenGait's names), so that a reader of the file can match them.
class GraphWriter {
 public:
  GraphWriter(onnx::GraphProto& g, const gait::ReverseMaskModel& model) : g_(g) {
    for (const auto& [name, t] : model.state_dict()) names_[t.raw_data()] = name;
  }

  // A model tensor as an initializer under its state-dict name (once).
  std::string weight(const Tensor& t) {
    auto it = names_.find(t.raw_data());
    RM_CHECK(it != names_.end(), "export: a tensor ", shape_str(t.shape()),
             " of the model is not in its state dict");
    if (written_.insert(it->second).second) add_initializer(it->second, t);
    return it->second;
  }
  std::string floats(const std::string& base, const std::vector<float>& v, Shape shape) {
    Tensor t = Tensor::empty(shape);
    std::copy(v.begin(), v.end(), t.data<float>());
    std::string name = fresh(base);
    add_initializer(name, t);
    return name;
  }
  std::string ints(const std::string& base, const std::vector<int64_t>& v) {
    onnx::TensorProto* p = g_.add_initializer();
    p->set_name(fresh(base));
    p->set_data_type(onnx::TensorProto::INT64);
    p->add_dims(int64_t(v.size()));
    for (int64_t x : v) p->add_int64_data(x);
    return p->name();
  }
  // One node; returns its output's name.
  std::string node(const std::string& op, const std::vector<std::string>& inputs,
                   const std::string& base, onnx::NodeProto** out = nullptr) {
    onnx::NodeProto* n = g_.add_node();
    n->set_op_type(op);
    n->set_name(fresh(base + "/" + op));
    for (const std::string& i : inputs) n->add_input(i);
    n->add_output(fresh(base));
    if (out) *out = n;
    return n->output(0);
  }
  static void ints_attr(onnx::NodeProto* n, const std::string& name,
                        const std::vector<int64_t>& v) {
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  static void int_attr(onnx::NodeProto* n, const std::string& name, int64_t v) {
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void float_attr(onnx::NodeProto* n, const std::string& name, float v) {
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }

  // lrelu(conv(x)) with slope 0.01, as Conv3d::forward_leaky_relu.
  std::string conv_lrelu(const std::string& x, const nn::Conv3d& conv, const std::string& base) {
    std::vector<std::string> in{x, weight(conv.weight)};
    if (conv.bias.defined()) in.push_back(weight(conv.bias));
    onnx::NodeProto* n;
    std::string y = node("Conv", in, base, &n);
    const Shape& w = conv.weight.shape();
    ints_attr(n, "kernel_shape", {w[2], w[3], w[4]});
    ints_attr(n, "strides", {conv.params.stride[0], conv.params.stride[1], conv.params.stride[2]});
    const auto& p = conv.params.padding;
    ints_attr(n, "pads", {p[0], p[1], p[2], p[0], p[1], p[2]});
    std::string out = node("LeakyRelu", {y}, base, &n);
    float_attr(n, "alpha", 0.01f);
    return out;
  }

 private:
  std::string fresh(const std::string& base) { return base + "_" + std::to_string(next_++); }
  void add_initializer(const std::string& name, const Tensor& t) {
    const Tensor c = t.to(Device::cpu).to(DType::f32).contiguous();
    onnx::TensorProto* p = g_.add_initializer();
    p->set_name(name);
    p->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : c.shape()) p->add_dims(d);
    // raw_data is little-endian, as this host's floats
    p->set_raw_data(c.data<float>(), size_t(c.numel()) * sizeof(float));
  }
  onnx::GraphProto& g_;
  std::map<const void*, std::string> names_;
  std::set<std::string> written_;
  int next_ = 0;
};

// One stage block in evaluation mode (no masks: ReverseMask's blocks are lrelu(W x) there, as
// are DropBlock's); x [N, Ci, T, h, W] -> [N, Co, T, m h, W].
std::string block_graph(GraphWriter& gw, gait::Block& b, const std::string& x, int64_t h,
                        const std::string& stage) {
  if (auto* p = dynamic_cast<gait::PlainBlock*>(&b))
    return gw.conv_lrelu(x, *p->conv3d->conv, stage);
  if (auto* p = dynamic_cast<gait::PlainRMBlock*>(&b))
    return gw.conv_lrelu(x, *p->rm_conv3d->conv, stage);
  if (auto* p = dynamic_cast<gait::DropBlockConv*>(&b))
    return gw.conv_lrelu(x, *p->conv3d->conv, stage);
  if (auto* p = dynamic_cast<gait::InceptionRMBlock*>(&b)) {
    std::string fg = gw.conv_lrelu(x, *p->global_conv3d->conv, stage + "/global");
    std::string fd = gw.conv_lrelu(x, *p->drop_conv3d->conv, stage + "/drop");
    std::string fs = gw.conv_lrelu(x, *p->scale_conv3d->conv, stage + "/scale");
    if (p->height_multiplier() == 1)
      return gw.node("Add", {gw.node("Add", {fg, fd}, stage), fs}, stage);
    onnx::NodeProto* n;
    std::string y = gw.node("Concat", {fg, fd, fs}, stage, &n);
    GraphWriter::int_attr(n, "axis", 3);
    return y;
  }
  if (auto* p = dynamic_cast<gait::GLConv*>(&b)) {
    std::string g = gw.conv_lrelu(x, *p->global_conv3d->conv, stage + "/global");
    const nn::Conv3d& local = *p->local_conv3d->conv;
    std::string l;
    const int64_t split = h >> p->halving();
    if (p->halving() == 0) {
      l = gw.conv_lrelu(x, local, stage + "/local");
    } else {  // torch.split's strips: equal ones, a shorter last one; each conv padded on its own
      RM_CHECK(split > 0, "export: GLConv height ", h, " is too small for halving ", p->halving());
      std::vector<int64_t> sizes;
      for (int64_t s = 0; s < h; s += split) sizes.push_back(std::min(split, h - s));
      onnx::NodeProto* n;
      gw.node("Split", {x, gw.ints(stage + "/strips", sizes)}, stage + "/split", &n);
      GraphWriter::int_attr(n, "axis", 3);
      for (size_t i = 1; i < sizes.size(); ++i)
        n->add_output(n->output(0) + "_" + std::to_string(i));
      std::vector<std::string> strips;
      for (int i = 0; i < n->output_size(); ++i)
        strips.push_back(gw.conv_lrelu(n->output(i), local, stage + "/local"));
      onnx::NodeProto* c;
      l = gw.node("Concat", strips, stage + "/local", &c);
      GraphWriter::int_attr(c, "axis", 3);
    }
    if (p->height_multiplier() == 1) return gw.node("Add", {g, l}, stage);
    onnx::NodeProto* n;
    std::string y = gw.node("Concat", {g, l}, stage, &n);
    GraphWriter::int_attr(n, "axis", 3);
    return y;
  }
  RM_FAIL("export: block ", stage, " is of a kind the exporter does not know");
}

// SeparateFCs: x [N, in, P] -> [N, out, P] through fc_bin [P, in, out].
std::string separate_fcs(GraphWriter& gw, const gait::SeparateFCs& fc, const std::string& x,
                         const std::string& base) {
  onnx::NodeProto* n;
  std::string t = gw.node("Transpose", {x}, base, &n);  // [P, N, in]
  GraphWriter::ints_attr(n, "perm", {2, 0, 1});
  std::string y = gw.node("MatMul", {t, gw.weight(fc.fc_bin)}, base);  // [P, N, out]
  std::string out = gw.node("Transpose", {y}, base, &n);
  GraphWriter::ints_attr(n, "perm", {1, 2, 0});
  return out;
}

void set_tensor_type(onnx::ValueInfoProto* v, const std::string& name,
                     const std::vector<std::string>& dims) {
  v->set_name(name);
  onnx::TypeProto_Tensor* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  for (const std::string& d : dims) {
    onnx::TensorShapeProto_Dimension* dim = t->mutable_shape()->add_dim();
    if (!d.empty() && std::isdigit(static_cast<unsigned char>(d[0])))
      dim->set_dim_value(std::stoll(d));
    else
      dim->set_dim_param(d);
  }
}

}  // namespace

std::string export_onnx(const ExportRequest& r) {
  RM_CHECK(!r.out.empty(), "export: --out names the ONNX file to write");
  LoadedModel lm = load_model(r.checkpoint, r.config);
  return write_onnx(*lm.model, lm.cfg, lm.iteration, r.out);
}

std::string write_onnx(gait::ReverseMaskModel& m, const TrainConfig& cfg, int64_t iteration,
                       const std::string& out) {
  m.eval();
  const gait::ModelConfig& mc = m.config();
  const int64_t c2 = mc.channels[2], parts = m.parts();

  onnx::ModelProto model;
  model.set_ir_version(onnx::IR_VERSION);
  model.set_producer_name("rmgait");
  model.set_producer_version(RMGAIT_VERSION);
  model.set_doc_string("ReverseMask gait embedding (" +
                       std::string(gait::block_kind_name(mc.block)) +
                       " blocks): silhouettes [N, T, " + std::to_string(mc.height) + ", " +
                       std::to_string(mc.width) + "] in [0, 1] -> embedding [N, " +
                       std::to_string(c2) + ", " + std::to_string(parts) + "]");
  onnx::OperatorSetIdProto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpset);
  auto meta = [&](const std::string& k, const std::string& v) {
    onnx::StringStringEntryProto* e = model.add_metadata_props();
    e->set_key(k);
    e->set_value(v);
  };
  std::string settings;
  for (const auto& [k, v] : effective_settings(cfg)) settings += k + ": " + v + "\n";
  meta("rmgait_version", RMGAIT_VERSION);
  meta("config", settings);
  meta("iteration", std::to_string(iteration));
  meta("model_fingerprint", model_fingerprint(m));

  onnx::GraphProto& g = *model.mutable_graph();
  g.set_name("rmgait_" + std::string(gait::block_kind_name(mc.block)));
  set_tensor_type(g.add_input(), "sils",
                  {"N", "T", std::to_string(mc.height), std::to_string(mc.width)});
  GraphWriter gw(g, m);
  onnx::NodeProto* n;
  std::string x = gw.node("Unsqueeze", {"sils", gw.ints("axes", {1})}, "input");  // [N,1,T,H,W]
  // Fewer than 3 frames are tiled in time (1 -> 3 copies, 2 -> 2): (T + 2) / T copies
  std::string shape = gw.node("Shape", {x}, "input");
  std::string t = gw.node("Slice", {shape, gw.ints("t_at", {2}), gw.ints("t_end", {3})}, "input");
  std::string reps =
      gw.node("Div", {gw.node("Add", {t, gw.ints("two", {2})}, "input"), t}, "input");
  std::string repeats =
      gw.node("Concat", {gw.ints("ones", {1, 1}), reps, gw.ints("ones", {1, 1})}, "input", &n);
  GraphWriter::int_attr(n, "axis", 0);
  x = gw.node("Tile", {x, repeats}, "input");
  x = gw.conv_lrelu(x, *m.stem_conv().conv, "conv3d");
  x = gw.conv_lrelu(x, *m.lta_conv().conv, "LTA");
  x = block_graph(gw, *m.a0, x, mc.height, "A0");
  x = gw.node("MaxPool", {x}, "MaxPool0", &n);
  GraphWriter::ints_attr(
      n, "kernel_shape",
      {m.pool0->params.kernel[0], m.pool0->params.kernel[1], m.pool0->params.kernel[2]});
  GraphWriter::ints_attr(
      n, "strides",
      {m.pool0->params.stride[0], m.pool0->params.stride[1], m.pool0->params.stride[2]});
  const auto& pp = m.pool0->params.padding;
  GraphWriter::ints_attr(n, "pads", {pp[0], pp[1], pp[2], pp[0], pp[1], pp[2]});
  const int64_t h1 =
      (mc.height + 2 * pp[1] - m.pool0->params.kernel[1]) / m.pool0->params.stride[1] + 1;
  x = block_graph(gw, *m.a1, x, h1, "A1");
  x = block_graph(gw, *m.b2, x, h1, "B2");
  x = gw.node("ReduceMax", {x}, "TP", &n);  // temporal max: [N, c2, P, W']
  GraphWriter::ints_attr(n, "axes", {2});
  GraphWriter::int_attr(n, "keepdims", 0);
  // GeM over W: (mean_w max(x, eps)^p)^(1/p) -> [N, c2, P]
  const std::string p = gw.weight(m.hpp->p);
  x = gw.node("Max", {x, gw.floats("HPP/eps", {m.hpp->eps}, {})}, "HPP");
  x = gw.node("ReduceMean", {gw.node("Pow", {x, p}, "HPP")}, "HPP", &n);
  GraphWriter::ints_attr(n, "axes", {3});
  GraphWriter::int_attr(n, "keepdims", 0);
  x = gw.node("Pow", {x, gw.node("Reciprocal", {p}, "HPP")}, "HPP");
  x = separate_fcs(gw, *m.head0, x, "Head0");
  const nn::BatchNorm& bn = *m.bn;
  x = gw.node("BatchNormalization",
              {x, gw.weight(bn.weight), gw.weight(bn.bias), gw.weight(bn.running_mean),
               gw.weight(bn.running_var)},
              "Bn", &n);
  GraphWriter::float_attr(n, "epsilon", bn.eps);
  x = gw.node("Identity", {x}, "output", &n);
  n->set_output(0, "embedding");
  set_tensor_type(g.add_output(), "embedding", {"N", std::to_string(c2), std::to_string(parts)});

  try {
    onnx::checker::check_model(model);
    onnx::ShapeInferenceOptions strict(/*check_type=*/true, /*error_mode=*/1);
    onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(), strict);
  } catch (const std::exception& e) {
    RM_FAIL("export: the ONNX checker refused the graph for ", out, ": ", e.what());
  }
  std::string bytes;
  RM_CHECK(model.SerializeToString(&bytes), "export: could not serialize the ONNX model");
  write_file_atomically(
      out, [&](std::ostream& os) { os.write(bytes.data(), std::streamsize(bytes.size())); });
  return out + ": ONNX opset " + std::to_string(kOpset) + ", " + gait::block_kind_name(mc.block) +
         " blocks, sils [N, T, " + std::to_string(mc.height) + ", " + std::to_string(mc.width) +
         "] -> embedding [N, " + std::to_string(c2) + ", " + std::to_string(parts) + "], " +
         std::to_string(bytes.size()) + " bytes";
}

}  // namespace rmgait::pipeline
