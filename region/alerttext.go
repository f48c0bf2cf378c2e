package region

import (
	"fmt"
	"strings"
	"time"

	"github.com/icugate/icugate/alerts/notify"
)

// reasonText words a part's reason in both languages.
var reasonText = map[string]notify.Text{
	ReasonGatewayDown:   {EN: "gateway down", ZH: "网关离线"},
	ReasonNoReport:      {EN: "gateway up, no report", ZH: "网关在线但未上报"},
	ReasonNeverReported: {EN: "never reported", ZH: "从未上报"},
}

// whatToDo is the advice for a reason.
var whatToDo = map[string]notify.Text{
	ReasonGatewayDown: {
		EN: "Check the gateway's power and network, and its connection to the region's broker.",
		ZH: "请检查网关电源、网络及其与区域消息服务器的连接。",
	},
	ReasonNoReport: {
		EN: "The gateway is connected but sends no report: check its /readyz (signing key, report settings).",
		ZH: "网关已连接但未发送报告：请检查其 /readyz（签名密钥、上报配置）。",
	},
	ReasonNeverReported: {
		EN: "Check that the gateway's report.part and public key are registered in hospitals.yaml and that it reports to this region.",
		ZH: "请确认网关的 report.part 与公钥已登记在 hospitals.yaml 中，并向本区域上报。",
	},
}

// alertText is a firing alert's summary, description and cause.
func alertText(h *HospitalView) (summary, description notify.Text, cause string) {
	name := h.ID
	if h.Name != "" {
		name = h.ID + " (" + h.Name + ")"
	}
	var en, zh, causes []string
	reasons := map[string]bool{}
	for _, p := range h.Parts {
		if p.Status == StatusReporting {
			continue
		}
		rt := reasonText[p.Reason]
		en = append(en, p.ID+": "+rt.EN)
		zh = append(zh, p.ID+"："+rt.ZH)
		c := p.ID + " " + p.Reason
		if p.SilentSince != nil {
			c += " since " + p.SilentSince.UTC().Format(time.RFC3339)
		}
		causes = append(causes, c)
		reasons[p.Reason] = true
	}
	cause = strings.Join(causes, "; ")
	if h.District != "" {
		cause = "district " + h.District + "; " + cause
	}
	switch h.Status {
	case StatusPartial:
		summary = notify.Text{
			EN: fmt.Sprintf("Hospital %s reports only in part: %s. Its figures cover only the reporting parts.", name, strings.Join(en, ", ")),
			ZH: fmt.Sprintf("医院 %s 部分上报：%s。其数据仅含正常上报的部分。", name, strings.Join(zh, "，")),
		}
	default:
		r := reasonText[h.Reason]
		summary = notify.Text{
			EN: fmt.Sprintf("Hospital %s is silent (%s): %s. Its beds are left out of the district and region figures.", name, r.EN, strings.Join(en, ", ")),
			ZH: fmt.Sprintf("医院 %s 无上报（%s）：%s。其床位未计入区县及全区数据。", name, r.ZH, strings.Join(zh, "，")),
		}
	}
	description = summary
	for _, reason := range []string{ReasonGatewayDown, ReasonNoReport, ReasonNeverReported} {
		if reasons[reason] {
			description.EN += " " + whatToDo[reason].EN
			description.ZH += whatToDo[reason].ZH
		}
	}
	return summary, description, cause
}

// resolvedText is a resolved alert's summary and description.
func resolvedText(hospital, rule string) (summary, description notify.Text) {
	if rule == rulePartial {
		summary = notify.Text{EN: fmt.Sprintf("Hospital %s no longer reports only in part.", hospital), ZH: fmt.Sprintf("医院 %s 已不再是部分上报。", hospital)}
	} else {
		summary = notify.Text{EN: fmt.Sprintf("Hospital %s reports again.", hospital), ZH: fmt.Sprintf("医院 %s 已恢复上报。", hospital)}
	}
	return summary, summary
}
