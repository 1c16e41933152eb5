#include <string>
#include <vector>

#include "engine/ops/op_test_util.h"
#include "gtest/gtest.h"

namespace savant::engine {
namespace {

using testing::ExpectError;
using testing::ExpectTensor;
using testing::MakeScalar;
using testing::MakeStrings;
using testing::MakeTensor;
using testing::OpTest;

// A fake checkpoint: "a" is a float vector, "b" an int64 scalar; it records what it was asked.
struct FakeCheckpoint {
  std::vector<std::string> calls;
  absl::StatusOr<Tensor> operator()(absl::string_view prefix, absl::string_view name,
                                    absl::string_view slice, DataType dtype) {
    calls.push_back(absl::StrCat(prefix, "|", name, "|", slice, "|", DataTypeName(dtype)));
    if (name == "a") return MakeTensor<float>({2}, {1, 2});
    if (name == "b") return MakeScalar<int64_t>(7);
    return absl::NotFoundError(absl::StrCat("key ", name, " not found in checkpoint"));
  }
};

TEST(IoOpsTest, RestoreV2ReadsEveryTensorThroughRunOptions) {
  FakeCheckpoint ckpt;
  OpTest t("RestoreV2");
  t.TypeListAttr("dtypes", {DataType::kFloat, DataType::kInt64})
      .Input(MakeStrings({}, {"/m/variables/variables"}))
      .Input(MakeStrings({2}, {"a", "b"}))
      .Input(MakeStrings({2}, {"", ""}));
  t.run_options().restore = [&](absl::string_view p, absl::string_view n, absl::string_view s,
                                DataType d) { return ckpt(p, n, s, d); };
  auto out = t.Run(2);
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectTensor<float>((*out)[0], Shape{2}, {1, 2});
  ExpectTensor<int64_t>((*out)[1], Shape{}, {7});
  EXPECT_EQ(ckpt.calls, (std::vector<std::string>{"/m/variables/variables|a||DT_FLOAT",
                                                  "/m/variables/variables|b||DT_INT64"}));
}

TEST(IoOpsTest, RestoreV2Errors) {
  FakeCheckpoint ckpt;
  auto make = [&](std::vector<DataType> dtypes, std::vector<std::string> names) {
    auto t = std::make_unique<OpTest>("RestoreV2");
    const int64_t n = static_cast<int64_t>(names.size());
    t->TypeListAttr("dtypes", dtypes)
        .Input(MakeStrings({}, {"/ckpt"}))
        .Input(MakeStrings({n}, names))
        .Input(MakeStrings({n}, std::vector<std::string>(names.size())));
    return t;
  };
  auto unset = make({DataType::kFloat}, {"a"});
  ExpectError(unset->Run(1).status(), absl::StatusCode::kFailedPrecondition,
              "RunOptions::restore is unset");

  auto wrong_dtype = make({DataType::kInt32}, {"a"});
  wrong_dtype->run_options().restore = [&](auto p, auto n, auto s, DataType d) {
    return ckpt(p, n, s, d);
  };
  ExpectError(wrong_dtype->Run(1).status(), absl::StatusCode::kInvalidArgument,
              "restored tensor \"a\" from \"/ckpt\": expected DT_INT32, got DT_FLOAT");

  auto missing = make({DataType::kFloat}, {"zzz"});
  missing->run_options().restore = wrong_dtype->run_options().restore;
  ExpectError(missing->Run(1).status(), absl::StatusCode::kNotFound, "zzz");

  auto count = make({DataType::kFloat, DataType::kFloat}, {"a"});
  ExpectError(count->Run(2).status(), absl::StatusCode::kInvalidArgument, "same length");
}

TEST(IoOpsTest, RestoreAndRestoreSlice) {
  FakeCheckpoint ckpt;
  OpTest v1("Restore");
  v1.TypeAttr("dt", DataType::kInt64)
      .IntAttr("preferred_shard", -1)
      .Input(MakeStrings({}, {"model.ckpt"}))
      .Input(MakeStrings({}, {"b"}));
  v1.run_options().restore = [&](auto p, auto n, auto s, DataType d) { return ckpt(p, n, s, d); };
  auto out = v1.Run();
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectTensor<int64_t>((*out)[0], Shape{}, {7});

  OpTest slice("RestoreSlice");
  slice.TypeAttr("dt", DataType::kFloat)
      .Input(MakeStrings({}, {"model.ckpt"}))
      .Input(MakeStrings({}, {"a"}))
      .Input(MakeStrings({}, {"4 0,2"}));
  slice.run_options().restore = v1.run_options().restore;
  ASSERT_TRUE(slice.Run().ok());
  EXPECT_EQ(ckpt.calls.back(), "model.ckpt|a|4 0,2|DT_FLOAT");
}

TEST(IoOpsTest, ShardedFilenameAndFilespec) {
  OpTest name("ShardedFilename");
  name.Input(MakeStrings({}, {"/tmp/ckpt"}))
      .Input(MakeScalar<int32_t>(3))
      .Input(MakeScalar<int32_t>(12));
  auto n = name.Run();
  ASSERT_TRUE(n.ok());
  ExpectTensor<std::string>((*n)[0], Shape{}, {"/tmp/ckpt-00003-of-00012"});
  OpTest spec("ShardedFilespec");
  spec.Input(MakeStrings({}, {"x"})).Input(MakeScalar<int32_t>(2));
  auto s = spec.Run();
  ASSERT_TRUE(s.ok());
  ExpectTensor<std::string>((*s)[0], Shape{},
                            {"x-?????"
                             "-of-00002"});
  OpTest bad("ShardedFilename");
  bad.Input(MakeStrings({}, {"x"})).Input(MakeScalar<int64_t>(3)).Input(MakeScalar<int32_t>(1));
  ExpectError(bad.Run().status(), absl::StatusCode::kInvalidArgument, "shard");
}

TEST(IoOpsTest, StringJoinBroadcastsScalars) {
  OpTest t("StringJoin");
  t.StringAttr("separator", "/")
      .IntAttr("N", 3)
      .Input(MakeStrings({}, {"prefix"}))
      .Input(MakeStrings({2}, {"a", "b"}))
      .Input(MakeStrings({2}, {"1", "2"}));
  auto out = t.Run();
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectTensor<std::string>((*out)[0], Shape{2}, {"prefix/a/1", "prefix/b/2"});
  // The TF1 saver joins a scalar prefix with a scalar suffix.
  OpTest saver("StringJoin");
  saver.Input(MakeStrings({}, {"/m/variables/variables"})).Input(MakeStrings({}, {"_temp/part"}));
  auto s = saver.Run();
  ASSERT_TRUE(s.ok());
  ExpectTensor<std::string>((*s)[0], Shape{}, {"/m/variables/variables_temp/part"});
  OpTest mismatch("StringJoin");
  mismatch.Input(MakeStrings({2}, {"a", "b"})).Input(MakeStrings({3}, {"a", "b", "c"}));
  ExpectError(mismatch.Run().status(), absl::StatusCode::kInvalidArgument,
              "Input shapes do not match: [2] vs. [3]");
  OpTest empty("StringJoin");
  empty.Input(MakeStrings({0}, {})).Input(MakeStrings({}, {"x"}));
  auto e = empty.Run();
  ASSERT_TRUE(e.ok());
  ExpectTensor<std::string>((*e)[0], Shape{0}, {});
}

TEST(IoOpsTest, SaveOpsLoadButRefuseToRun) {
  for (const char* op : {"SaveV2", "SaveSlices", "Save", "MergeV2Checkpoints"}) {
    OpTest t(op);
    ASSERT_TRUE(t.Build().ok()) << op;
    ExpectError(t.Run(0).status(), absl::StatusCode::kUnimplemented,
                "saving checkpoints is not supported by a serving engine");
    EXPECT_TRUE(OpRegistry::Global().Find(op)->stateful) << op;
  }
  EXPECT_TRUE(OpRegistry::Global().Find("RestoreV2")->stateful);
}

}  // namespace
}  // namespace savant::engine
