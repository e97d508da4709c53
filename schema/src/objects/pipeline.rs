use async_graphql::{Context, ID, Json, Object};
use entities::{pipeline, pipeline_stage};

use super::mirror_object;
use crate::{
    error::{GqlResult, IntoGql},
    scope::scope,
};

mirror_object!(
    /// A deal or ticket pipeline with its ordered stages.
    Pipeline(pipeline::Model), "Pipeline", {
    async fn label(&self) -> &str {
        &self.0.label
    }

    async fn display_order(&self) -> i32 {
        self.0.display_order
    }

    /// `deals` or `tickets`.
    async fn object_type(&self) -> &str {
        &self.0.object_type
    }

    /// The pipeline's stages in order; a stage removed at HubSpot is not listed (a record still in it resolves it).
    async fn stages(&self, ctx: &Context<'_>) -> GqlResult<Vec<PipelineStage>> {
        let stages = scope(ctx).loaders.stages.load_one(self.0.hubspot_id.clone()).await.gql()?;
        let live = stages.iter().flat_map(|s| s.iter()).filter(|s| s.archived_at.is_none());
        Ok(live.cloned().map(PipelineStage).collect())
    }
});

/// One stage of a pipeline; shared, not copied, by every deal in it.
#[derive(Clone, Debug)]
pub struct PipelineStage(pub(crate) std::sync::Arc<pipeline_stage::Model>);

// Serial, as the mirror objects are (see `mirror_object!`).
#[Object(serial)]
impl PipelineStage {
    /// The stage id HubSpot uses in `dealstage` / `hs_pipeline_stage`.
    async fn id(&self) -> ID {
        ID(self.0.hubspot_id.clone())
    }

    async fn pipeline_id(&self) -> ID {
        ID(self.0.pipeline_id.clone())
    }

    async fn label(&self) -> &str {
        &self.0.label
    }

    async fn display_order(&self) -> i32 {
        self.0.display_order
    }

    /// The win probability of a deal in this stage, 0 to 1; null for ticket stages.
    async fn probability(&self) -> Option<f64> {
        self.0.probability
    }

    async fn is_closed(&self) -> bool {
        self.0.is_closed
    }

    /// HubSpot's stage metadata as received.
    async fn metadata(&self) -> Json<serde_json::Value> {
        Json(self.0.metadata.clone())
    }
}

/// Boxed (see `objects::Boxed`).
pub(crate) fn load_pipeline<'a>(
    ctx: &'a Context<'_>,
    id: Option<&'a str>,
) -> super::Boxed<'a, GqlResult<Option<Pipeline>>> {
    Box::pin(async move {
        let Some(id) = id else { return Ok(None) };
        scope(ctx).loaders.pipelines.load_one(id.to_owned()).await.map(|p| p.map(Pipeline)).gql()
    })
}

/// A stage by pipeline and stage id; the stages of every pipeline a query level needs load in one statement.
/// Boxed (see `objects::Boxed`).
pub(crate) fn load_stage<'a>(
    ctx: &'a Context<'_>,
    pipeline_id: Option<&'a str>,
    stage_id: Option<&'a str>,
) -> super::Boxed<'a, GqlResult<Option<PipelineStage>>> {
    Box::pin(async move {
        let (Some(pipeline_id), Some(stage_id)) = (pipeline_id, stage_id) else { return Ok(None) };
        let stages = scope(ctx).loaders.stages.load_one(pipeline_id.to_owned()).await.gql()?;
        Ok(stages.and_then(|s| s.iter().find(|s| s.hubspot_id == stage_id).cloned().map(PipelineStage)))
    })
}
