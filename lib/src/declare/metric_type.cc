#include "promsqlite/metric_type.h"


namespace promsqlite {

const char* MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
    case MetricType::kSummary: return "summary";
    case MetricType::kInfo: return "info";
    case MetricType::kStateSet: return "stateset";
  }
  return "unknown";
}

const char* GaugeModeName(GaugeMode mode) {
  switch (mode) {
    case GaugeMode::kShared: return "";
    case GaugeMode::kAll: return "all";
    case GaugeMode::kLiveAll: return "liveall";
    case GaugeMode::kSum: return "sum";
    case GaugeMode::kLiveSum: return "livesum";
    case GaugeMode::kMax: return "max";
    case GaugeMode::kLiveMax: return "livemax";
    case GaugeMode::kMin: return "min";
    case GaugeMode::kLiveMin: return "livemin";
    case GaugeMode::kMostRecent: return "mostrecent";
    case GaugeMode::kLiveMostRecent: return "livemostrecent";
  }
  return "unknown";
}

bool IsLive(GaugeMode mode) {
  return mode == GaugeMode::kLiveAll || mode == GaugeMode::kLiveSum || mode == GaugeMode::kLiveMax ||
         mode == GaugeMode::kLiveMin || mode == GaugeMode::kLiveMostRecent;
}

}  // namespace promsqlite
